"""The actor behind a command: carried by every event (who, in which role, tier and jurisdiction)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who did something: token subject, role, tier and jurisdiction code."""

    id: str
    role: str
    tier: str
    jurisdiction: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain form for storage and transcoding."""
        return {"id": self.id, "role": self.role, "tier": self.tier, "jurisdiction": self.jurisdiction}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Actor:
        """Inverse of to_dict."""
        return cls(data["id"], data["role"], data["tier"], data.get("jurisdiction", ""))


# The actor of what antt does by itself (reference data, scheduled work, unauthenticated calls when
# tokens are optional). Its tier is antt.auth.principal.Tier.BO (that module imports this one);
# events recorded before the tier names were unified carry "national", which still reads as the Ministry.
SYSTEM = Actor(id="service:antt", role="service", tier="bo")

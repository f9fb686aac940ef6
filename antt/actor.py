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


# Used by the demo loader, the tests and the dev tools until tokens (issue 7) name the caller.
SYSTEM = Actor(id="service:antt", role="service", tier="national")

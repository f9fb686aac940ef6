"""Counts of one area (or one unit type within it) for a year, and the rates derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEVELS: tuple[str, ...] = ("xuat_sac", "kha", "trung_binh", "yeu")
LEVEL_LABELS_VI = {"xuat_sac": "Xuất sắc", "kha": "Khá", "trung_binh": "Trung bình", "yeu": "Yếu"}
KHA_OR_ABOVE = ("xuat_sac", "kha")


def pct(part: int, whole: int) -> float | None:
    """part/whole in percent, two decimals (None when whole is 0); never above 100 for part ≤ whole."""
    return None if whole == 0 else round(100.0 * part / whole, 2)


@dataclass
class Figures:
    """Counts for a year; every count is a subset of `in_scope`, so no rate exceeds 100%."""

    in_scope: int = 0
    registered: int = 0
    registered_on_time: int = 0
    decided: int = 0
    decided_on_time: int = 0
    recognised: int = 0
    not_recognised: int = 0
    revoked: int = 0
    classified: int = 0
    classified_on_time: int = 0
    levels: dict[str, int] = field(default_factory=lambda: {level: 0 for level in LEVELS})

    def add(self, other: Figures) -> None:
        """Add another area's counts to these."""
        # spelt out: a rollup adds one group per place and type, and getattr/setattr by name cost most of it
        self.in_scope += other.in_scope
        self.registered += other.registered
        self.registered_on_time += other.registered_on_time
        self.decided += other.decided
        self.decided_on_time += other.decided_on_time
        self.recognised += other.recognised
        self.not_recognised += other.not_recognised
        self.revoked += other.revoked
        self.classified += other.classified
        self.classified_on_time += other.classified_on_time
        levels = self.levels
        for level, n in other.levels.items():
            levels[level] = levels.get(level, 0) + n

    def times(self, n: int) -> Figures:
        """These counts for n units alike (one unit's figures times n)."""
        scaled = Figures(levels={level: count * n for level, count in self.levels.items()})
        for name in ("in_scope", "registered", "registered_on_time", "decided", "decided_on_time", "recognised",
                     "not_recognised", "revoked", "classified", "classified_on_time"):
            setattr(scaled, name, getattr(self, name) * n)
        return scaled

    @property
    def pct_recognised(self) -> float | None:
        """Recognised (and not revoked) units over units in scope."""
        return pct(self.recognised, self.in_scope)

    @property
    def kha_or_above(self) -> int:
        """Units classified Xuất sắc or Khá."""
        return sum(self.levels.get(level, 0) for level in KHA_OR_ABOVE)

    @property
    def pct_kha_or_above(self) -> float | None:
        """Units at Khá or above over classified units."""
        return pct(self.kha_or_above, self.classified)

    @property
    def completeness_pct(self) -> float | None:
        """Registered units over the units expected (in scope)."""
        return pct(self.registered, self.in_scope)

    @property
    def registration_timeliness_pct(self) -> float | None:
        """Registrations by the deadline over the units expected."""
        return pct(self.registered_on_time, self.in_scope)

    @property
    def decision_timeliness_pct(self) -> float | None:
        """Decisions by the deadline over registered units."""
        return pct(self.decided_on_time, self.registered)

    def as_dict(self) -> dict[str, Any]:
        """Canonical form: counts and rates."""
        return {
            "in_scope": self.in_scope, "registered": self.registered, "registered_on_time": self.registered_on_time,
            "decided": self.decided, "decided_on_time": self.decided_on_time, "recognised": self.recognised,
            "not_recognised": self.not_recognised, "revoked": self.revoked, "classified": self.classified,
            "classified_on_time": self.classified_on_time, "levels": dict(sorted(self.levels.items())),
            "pct_recognised": self.pct_recognised, "pct_kha_or_above": self.pct_kha_or_above,
            "completeness_pct": self.completeness_pct,
            "registration_timeliness_pct": self.registration_timeliness_pct,
            "decision_timeliness_pct": self.decision_timeliness_pct,
        }

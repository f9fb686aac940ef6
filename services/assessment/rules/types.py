"""Value types shared by the rule sets and the assessment domain (unit types, authority tiers)."""

from __future__ import annotations

import enum

from antt.contracts.vocabulary import UnitType

__all__ = ["Tier", "UnitType"]


class Tier(enum.Enum):
    """Administrative tiers that manage units and decide on them, lowest first."""

    XA = "xa"
    HUYEN = "huyen"
    TINH = "tinh"
    BO = "bo"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return _TIER_LABELS[self]

    @property
    def rank(self) -> int:
        """0 for the commune tier, rising to the Ministry."""
        return list(Tier).index(self)


_TIER_LABELS = {
    Tier.XA: "Cấp xã",
    Tier.HUYEN: "Cấp huyện",
    Tier.TINH: "Cấp tỉnh",
    Tier.BO: "Bộ Công an",
}

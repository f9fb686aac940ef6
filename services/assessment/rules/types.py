"""Value types shared by the rule sets and the assessment domain (unit types, authority tiers)."""

from __future__ import annotations

import enum


class UnitType(enum.Enum):
    """Unit types of TT124 Đ1 k2; same values as the registry's UnitType (the published language)."""

    KHU_DAN_CU = "khu_dan_cu"
    XA_PHUONG = "xa_phuong"
    CO_QUAN = "co_quan"
    DOANH_NGHIEP = "doanh_nghiep"
    CO_SO_GIAO_DUC = "co_so_giao_duc"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return _UNIT_LABELS[self]


_UNIT_LABELS = {
    UnitType.KHU_DAN_CU: "Khu dân cư",
    UnitType.XA_PHUONG: "Xã, phường, đặc khu",
    UnitType.CO_QUAN: "Cơ quan",
    UnitType.DOANH_NGHIEP: "Doanh nghiệp",
    UnitType.CO_SO_GIAO_DUC: "Cơ sở giáo dục",
}


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

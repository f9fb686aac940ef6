"""Vocabulary of the published language shared by every service (values travel on the wire)."""

from __future__ import annotations

import enum


class UnitType(enum.Enum):
    """Unit types of TT124 Đ1 k2; values are the law's terms without diacritics."""

    KHU_DAN_CU = "khu_dan_cu"
    XA_PHUONG = "xa_phuong"
    CO_QUAN = "co_quan"
    DOANH_NGHIEP = "doanh_nghiep"
    CO_SO_GIAO_DUC = "co_so_giao_duc"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics, for operators."""
        return _LABELS_VI[self]


_LABELS_VI = {
    UnitType.KHU_DAN_CU: "Khu dân cư",
    UnitType.XA_PHUONG: "Xã, phường, đặc khu",
    UnitType.CO_QUAN: "Cơ quan",
    UnitType.DOANH_NGHIEP: "Doanh nghiệp",
    UnitType.CO_SO_GIAO_DUC: "Cơ sở giáo dục",
}

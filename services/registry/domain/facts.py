"""Facts a unit declares that decide its eligibility under TT124 Đ1 k2 (values only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date


class SizeClass(enum.Enum):
    """Enterprise size class under NĐ80/2021 Đ5 (self-declared by the enterprise)."""

    SIEU_NHO = "sieu_nho"
    NHO = "nho"
    VUA = "vua"
    LON = "lon"


class SchoolLevel(enum.Enum):
    """Education levels an institution provides."""

    NHA_TRE = "nha_tre"
    MAM_NON = "mam_non"
    TIEU_HOC = "tieu_hoc"
    THCS = "thcs"
    THPT = "thpt"
    GIAO_DUC_THUONG_XUYEN = "giao_duc_thuong_xuyen"
    GIAO_DUC_NGHE_NGHIEP = "giao_duc_nghe_nghiep"
    CAO_DANG = "cao_dang"
    DAI_HOC = "dai_hoc"
    KHAC = "khac"


@dataclass(frozen=True)
class EligibilityFacts:
    """Armed-forces flag (cơ quan), size class and its declaration date (doanh nghiệp), levels (cơ sở giáo dục)."""

    armed_forces: bool = False
    size_class: SizeClass | None = None
    size_declared_on: date | None = None
    school_levels: frozenset[SchoolLevel] = field(default_factory=frozenset)

"""Eligibility under TT124 Đ1 k2: derived from a unit's type and declared facts, always with a reason code."""

from __future__ import annotations

from dataclasses import dataclass

from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import UnitType

# TT124 Đ1 k2 b: trường tiểu học, mầm non, nhà trẻ are out of scope.
EXCLUDED_LEVELS = frozenset({SchoolLevel.TIEU_HOC, SchoolLevel.MAM_NON, SchoolLevel.NHA_TRE})
PRESCHOOL_LEVELS = frozenset({SchoolLevel.MAM_NON, SchoolLevel.NHA_TRE})


@dataclass(frozen=True)
class Eligibility:
    """Whether a unit is in scope of the movement's standard, why (reason code), in Vietnamese and English."""

    eligible: bool
    reason_code: str
    explanation_vi: str
    explanation_en: str


def _in(reason: str, vi: str, en: str) -> Eligibility:
    return Eligibility(True, reason, vi, en)


def _out(reason: str, vi: str, en: str) -> Eligibility:
    return Eligibility(False, reason, vi, en)


def assess(unit_type: UnitType, facts: EligibilityFacts, closed: bool = False) -> Eligibility:
    """Eligibility of a unit of `unit_type` with these facts (TT124 Đ1 k2; NĐ80/2021 for size classes)."""
    if closed:
        return _out("UNIT_CLOSED", "Đơn vị đã chấm dứt hoạt động", "the unit has been closed")
    if unit_type is UnitType.KHU_DAN_CU:
        return _in("ELIGIBLE_RESIDENTIAL_AREA", "Khu dân cư thuộc phạm vi áp dụng (TT124 Đ1 k2 a)",
                   "residential areas are in scope (TT124 art. 1(2)(a))")
    if unit_type is UnitType.XA_PHUONG:
        return _in("ELIGIBLE_COMMUNE", "Xã, phường, đặc khu thuộc phạm vi áp dụng (TT124 Đ1 k2 a)",
                   "communes, wards and special zones are in scope (TT124 art. 1(2)(a))")
    if unit_type is UnitType.CO_QUAN:
        return _agency(facts)
    if unit_type is UnitType.DOANH_NGHIEP:
        return _enterprise(facts)
    return _school(facts)


def _agency(facts: EligibilityFacts) -> Eligibility:
    """Agencies are in scope except agencies and units of the armed forces (TT124 Đ1 k2 b)."""
    if facts.armed_forces:
        return _out("OUT_OF_SCOPE_ARMED_FORCES_AGENCY",
                    "Cơ quan, đơn vị lực lượng vũ trang không thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
                    "agencies and units of the armed forces are out of scope (TT124 art. 1(2)(b))")
    return _in("ELIGIBLE_AGENCY", "Cơ quan thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
               "agencies outside the armed forces are in scope (TT124 art. 1(2)(b))")


def _enterprise(facts: EligibilityFacts) -> Eligibility:
    """Enterprises are in scope except small and micro ones, by their declared size class."""
    size, declared = facts.size_class, facts.size_declared_on
    if size is None:
        return _out("ENTERPRISE_SIZE_NOT_DECLARED",
                    "Chưa kê khai quy mô doanh nghiệp nên chưa xác định được phạm vi (TT124 Đ1 k2 b)",
                    "no size class declared, so scope cannot be determined (TT124 art. 1(2)(b))")
    when_vi = f"kê khai ngày {declared:%d/%m/%Y}" if declared else "chưa rõ ngày kê khai"
    when_en = f"declared {declared.isoformat()}" if declared else "declaration date unknown"
    if size is SizeClass.SIEU_NHO:
        return _out("OUT_OF_SCOPE_MICRO_ENTERPRISE",
                    f"Doanh nghiệp siêu nhỏ ({when_vi}) không thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
                    f"micro enterprises ({when_en}) are out of scope (TT124 art. 1(2)(b))")
    if size is SizeClass.NHO:
        return _out("OUT_OF_SCOPE_SMALL_ENTERPRISE",
                    f"Doanh nghiệp nhỏ ({when_vi}) không thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
                    f"small enterprises ({when_en}) are out of scope (TT124 art. 1(2)(b))")
    label_vi, label_en = ("vừa", "medium") if size is SizeClass.VUA else ("lớn", "large")
    return _in(f"ELIGIBLE_{label_en.upper()}_ENTERPRISE",
               f"Doanh nghiệp {label_vi} ({when_vi}) thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
               f"{label_en} enterprises ({when_en}) are in scope (TT124 art. 1(2)(b))")


def _school(facts: EligibilityFacts) -> Eligibility:
    """Schools are in scope except primary schools, kindergartens and crèches (TT124 Đ1 k2 b)."""
    levels = facts.school_levels
    if not levels:
        return _out("SCHOOL_LEVELS_NOT_DECLARED",
                    "Chưa kê khai cấp học nên chưa xác định được phạm vi (TT124 Đ1 k2 b)",
                    "no school level declared, so scope cannot be determined (TT124 art. 1(2)(b))")
    if levels <= PRESCHOOL_LEVELS:
        return _out("OUT_OF_SCOPE_PRESCHOOL",
                    "Cơ sở giáo dục mầm non, nhà trẻ không thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
                    "kindergartens and crèches are out of scope (TT124 art. 1(2)(b))")
    if levels <= EXCLUDED_LEVELS:
        return _out("OUT_OF_SCOPE_PRIMARY_SCHOOL",
                    "Trường tiểu học không thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
                    "primary schools are out of scope (TT124 art. 1(2)(b))")
    if levels & EXCLUDED_LEVELS:
        # INFERRED (regulations §7): a multi-level school with any in-scope level is treated as in scope.
        return _in("ELIGIBLE_MULTI_LEVEL_SCHOOL",
                   "Trường nhiều cấp học có cấp học thuộc phạm vi áp dụng (suy luận, cần xác nhận)",
                   "a multi-level school with an in-scope level is treated as in scope (inferred, to confirm)")
    return _in("ELIGIBLE_SCHOOL", "Cơ sở giáo dục thuộc phạm vi áp dụng (TT124 Đ1 k2 b)",
               "educational institutions of these levels are in scope (TT124 art. 1(2)(b))")

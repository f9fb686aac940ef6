"""Eligibility under TT124 Đ1 k2: derived from type and facts, always with a reason code."""

from __future__ import annotations

from datetime import date

import pytest

from services.registry.domain.eligibility import assess
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import UnitType

pytestmark = pytest.mark.unit

DECLARED = date(2025, 1, 20)


@pytest.mark.parametrize(("unit_type", "facts", "eligible", "reason"), [
    (UnitType.KHU_DAN_CU, EligibilityFacts(), True, "ELIGIBLE_RESIDENTIAL_AREA"),
    (UnitType.XA_PHUONG, EligibilityFacts(), True, "ELIGIBLE_COMMUNE"),
    (UnitType.CO_QUAN, EligibilityFacts(), True, "ELIGIBLE_AGENCY"),
    (UnitType.CO_QUAN, EligibilityFacts(armed_forces=True), False, "OUT_OF_SCOPE_ARMED_FORCES_AGENCY"),
    (UnitType.DOANH_NGHIEP, EligibilityFacts(), False, "ENTERPRISE_SIZE_NOT_DECLARED"),
    (UnitType.DOANH_NGHIEP, EligibilityFacts(size_class=SizeClass.SIEU_NHO, size_declared_on=DECLARED), False,
     "OUT_OF_SCOPE_MICRO_ENTERPRISE"),
    (UnitType.DOANH_NGHIEP, EligibilityFacts(size_class=SizeClass.NHO, size_declared_on=DECLARED), False,
     "OUT_OF_SCOPE_SMALL_ENTERPRISE"),
    (UnitType.DOANH_NGHIEP, EligibilityFacts(size_class=SizeClass.VUA, size_declared_on=DECLARED), True,
     "ELIGIBLE_MEDIUM_ENTERPRISE"),
    (UnitType.DOANH_NGHIEP, EligibilityFacts(size_class=SizeClass.LON, size_declared_on=DECLARED), True,
     "ELIGIBLE_LARGE_ENTERPRISE"),
    (UnitType.CO_SO_GIAO_DUC, EligibilityFacts(), False, "SCHOOL_LEVELS_NOT_DECLARED"),
    (UnitType.CO_SO_GIAO_DUC, EligibilityFacts(school_levels=frozenset({SchoolLevel.TIEU_HOC})), False,
     "OUT_OF_SCOPE_PRIMARY_SCHOOL"),
    (UnitType.CO_SO_GIAO_DUC, EligibilityFacts(school_levels=frozenset({SchoolLevel.MAM_NON, SchoolLevel.NHA_TRE})),
     False, "OUT_OF_SCOPE_PRESCHOOL"),
    (UnitType.CO_SO_GIAO_DUC, EligibilityFacts(school_levels=frozenset({SchoolLevel.TIEU_HOC, SchoolLevel.MAM_NON})),
     False, "OUT_OF_SCOPE_PRIMARY_SCHOOL"),
    (UnitType.CO_SO_GIAO_DUC, EligibilityFacts(school_levels=frozenset({SchoolLevel.THCS})), True, "ELIGIBLE_SCHOOL"),
    (UnitType.CO_SO_GIAO_DUC, EligibilityFacts(school_levels=frozenset({SchoolLevel.TIEU_HOC, SchoolLevel.THCS})),
     True, "ELIGIBLE_MULTI_LEVEL_SCHOOL"),
])
def test_eligibility_is_derived_with_a_reason_code(unit_type: UnitType, facts: EligibilityFacts, eligible: bool,
                                                   reason: str) -> None:
    verdict = assess(unit_type, facts)
    assert (verdict.eligible, verdict.reason_code) == (eligible, reason)
    assert verdict.explanation_vi and verdict.explanation_en


def test_the_declaration_date_of_a_size_class_is_part_of_the_explanation() -> None:
    verdict = assess(UnitType.DOANH_NGHIEP, EligibilityFacts(size_class=SizeClass.NHO, size_declared_on=DECLARED))
    assert "20/01/2025" in verdict.explanation_vi and "2025-01-20" in verdict.explanation_en


def test_a_closed_unit_is_out_of_scope() -> None:
    verdict = assess(UnitType.KHU_DAN_CU, EligibilityFacts(), closed=True)
    assert (verdict.eligible, verdict.reason_code) == (False, "UNIT_CLOSED")

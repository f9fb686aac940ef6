"""Rule sets as data: loading, provisional labels, selection by date and year, calendars, authorities."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from services.assessment.domain.errors import NoRuleSetInForceError, UnknownRuleSetError
from services.assessment.rules import RuleCatalogue, RuleSetError, Tier, UnitType
from services.assessment.rules.loader import build_rule_set, merge_bases, read_documents
from services.assessment.rules.model import Delegation, Threshold

pytestmark = pytest.mark.unit


def test_packaged_catalogue_holds_the_2021_and_2025_rule_sets(catalogue: RuleCatalogue) -> None:
    ids = [r.id for r in catalogue.rule_sets]
    assert ids == ["tt124-2021", "tt124-tt48-2025"]
    first = catalogue.get("tt124-2021")
    assert first.in_force_from == date(2022, 2, 10) and first.in_force_to == date(2025, 6, 30)
    assert [i.ref for i in first.instruments][:2] == ["Thông tư 124/2021/TT-BCA", "Quyết định 510/QĐ-BCA-V05"]


def test_criteria_catalogue_covers_every_unit_type_of_tt124(catalogue: RuleCatalogue) -> None:
    rules = catalogue.get("tt124-2021")
    counts = {t: len(rules.criteria_for(t)) for t in UnitType}
    assert counts == {UnitType.KHU_DAN_CU: 18, UnitType.XA_PHUONG: 7, UnitType.CO_QUAN: 16,
                      UnitType.DOANH_NGHIEP: 16, UnitType.CO_SO_GIAO_DUC: 18}
    kdc_4a = next(c for c in rules.criteria if c.id == "KDC-4a")
    assert kdc_4a.threshold == Threshold("<", "previous_year", "count", "crime_social_evil_violation_count")


def test_selecting_the_rule_set_in_force_is_a_function_of_the_date(catalogue: RuleCatalogue) -> None:
    assert catalogue.in_force_on(date(2022, 2, 10)).id == "tt124-2021"
    assert catalogue.in_force_on(date(2025, 6, 30)).id == "tt124-2021"
    assert catalogue.in_force_on(date(2025, 7, 1)).id == "tt124-tt48-2025"
    with pytest.raises(NoRuleSetInForceError) as err:
        catalogue.in_force_on(date(2022, 2, 9))
    assert err.value.reason == "NO_RULE_SET_IN_FORCE"


def test_a_year_is_governed_by_the_rule_set_in_force_on_its_reference_day(catalogue: RuleCatalogue) -> None:
    assert catalogue.year_reference_day.in_year(2025) == date(2025, 11, 15)
    assert catalogue.for_year(2024).id == "tt124-2021"
    assert catalogue.for_year(2025).id == "tt124-tt48-2025"
    assert catalogue.for_year(2030).id == "tt124-tt48-2025"
    assert "year_reference_day" in catalogue.provisional


def test_unconfirmed_values_are_labelled_provisional_with_a_note(catalogue: RuleCatalogue) -> None:
    rules = catalogue.get("tt124-tt48-2025")
    for path in ("in_force.from", "registration.deadline", "commune_coverage.include_units_managed_above",
                 "revocation.by_deciding_authority_or_superior", "classification.levels", "criteria.KDC-4a",
                 "authority_map.rules[1]"):
        assert rules.provisional[path], path
    assert "authority_map.rules[1]" not in catalogue.get("tt124-2021").provisional


def test_windows_and_deadlines_follow_tt124_and_qd510(catalogue: RuleCatalogue) -> None:
    rules = catalogue.for_year(2026)
    kdc, cq = rules.calendar(UnitType.KHU_DAN_CU), rules.calendar(UnitType.CO_QUAN)
    assert kdc.evaluation_window(2026) == (date(2025, 11, 1), date(2026, 10, 31))
    assert cq.evaluation_window(2026) == (date(2025, 11, 16), date(2026, 11, 15))
    assert (kdc.decision_deadline.in_year(2026), cq.decision_deadline.in_year(2026)) == (
        date(2026, 11, 15), date(2026, 11, 20))
    assert (kdc.classification_deadline.in_year(2026), cq.classification_deadline.in_year(2026)) == (
        date(2026, 11, 20), date(2026, 11, 30))


def test_levels_derive_from_thresholds_and_award_eligibility(catalogue: RuleCatalogue) -> None:
    scale = catalogue.for_year(2026).classification
    assert [scale.level_for(p).label_vi for p in (100, 90, 89.5, 70, 50, 49, 0)] == [
        "Xuất sắc", "Xuất sắc", "Khá", "Khá", "Trung bình", "Yếu", "Yếu"]
    assert [lv.id for lv in scale.levels if not lv.award_eligible] == ["trung_binh", "yeu"]
    assert (scale.scale_min, scale.scale_max) == (0, 100)


def test_authority_map_changes_with_the_two_tier_reform(catalogue: RuleCatalogue) -> None:
    before, after = catalogue.for_year(2024).authority, catalogue.for_year(2026).authority
    on = date(2024, 11, 1)
    assert before.decider_tiers(UnitType.XA_PHUONG, None, "01", on) == (Tier.HUYEN,)
    assert after.decider_tiers(UnitType.XA_PHUONG, None, "01", on) == (Tier.TINH,)
    assert after.decider_tiers(UnitType.KHU_DAN_CU, Tier.XA, "01", on) == (Tier.XA,)
    assert after.decider_tiers(UnitType.DOANH_NGHIEP, Tier.TINH, "01", on) == (Tier.TINH,)


def test_a_province_delegation_adds_the_tier_one_below(catalogue: RuleCatalogue) -> None:
    authority = catalogue.for_year(2026).authority
    delegation = Delegation("01", Tier.TINH, (UnitType.DOANH_NGHIEP,), date(2026, 1, 1), None, "QĐ 1/QĐ-UBND")
    delegated = dataclasses.replace(authority, delegations=(delegation,))
    assert delegated.decider_tiers(UnitType.DOANH_NGHIEP, Tier.TINH, "01", date(2026, 11, 1)) == (Tier.TINH, Tier.XA)
    assert delegated.decider_tiers(UnitType.DOANH_NGHIEP, Tier.TINH, "79", date(2026, 11, 1)) == (Tier.TINH,)
    assert delegated.decider_tiers(UnitType.CO_QUAN, Tier.TINH, "01", date(2026, 11, 1)) == (Tier.TINH,)
    before = dataclasses.replace(catalogue.for_year(2024).authority, delegations=(delegation,))
    assert before.decider_tiers(UnitType.DOANH_NGHIEP, Tier.TINH, "01", date(2026, 11, 1)) == (Tier.TINH, Tier.HUYEN)


def test_overlapping_rule_sets_are_rejected(catalogue: RuleCatalogue) -> None:
    current = catalogue.get("tt124-tt48-2025")
    clash = dataclasses.replace(current, id="clash", in_force_from=date(2027, 1, 1))
    with pytest.raises(RuleSetError):
        catalogue.with_rule_set(clash)
    with pytest.raises(UnknownRuleSetError):
        catalogue.get("nope")


def test_a_malformed_rule_set_is_a_load_error() -> None:
    documents, _ = read_documents()
    raw = dict(merge_bases(documents)["tt124-2021"])
    raw["criteria"] = [{**raw["criteria"][0], "kind": "numeric_threshold"}]  # numeric without a threshold
    with pytest.raises(RuleSetError):
        build_rule_set(raw)
    with pytest.raises(RuleSetError):
        merge_bases({"a": {"base": "b"}, "b": {"base": "a"}})

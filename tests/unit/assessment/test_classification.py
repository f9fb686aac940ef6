"""Movement classification (QĐ510): points on the scale, derived level, decision, reclassification."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from antt.actor import Actor
from antt.errors import DomainError, ErrorKind
from services.assessment.domain.classification import Classification, ClassificationState
from services.assessment.rules import RuleSet, Tier, UnitType

from .builders import YEAR, decision, profile, tinh_authority, xa_authority

pytestmark = pytest.mark.unit

KDC = profile("KDC-01", UnitType.KHU_DAN_CU)
AGENCY = profile("CQ-01", UnitType.CO_QUAN)


def proposed(rules: RuleSet, actor: Actor, items: dict[str, float] | None = None) -> Classification:
    return Classification.propose(KDC, YEAR, items or {"1": 40, "2": 35, "3": 17}, rules, actor, date(YEAR, 11, 1))


def test_the_unit_proposes_and_the_level_is_derived_from_the_thresholds(rules: RuleSet, actor: Actor) -> None:
    c = proposed(rules, actor)
    assert (c.total, c.proposed_level, c.state) == (92, "xuat_sac", ClassificationState.DE_XUAT)


@pytest.mark.parametrize(("unit", "items"), [
    (KDC, {"1": -1, "2": 50}),        # negative item
    (KDC, {"1": 60, "2": 50}),        # total above 100
    (AGENCY, {"1": 4, "2": 3}),       # item 1 of QĐ510 Đ7 is worth at most 3 points
    (KDC, {"1": float("nan")}),       # not a number
])
def test_points_outside_the_scale_are_rejected(rules: RuleSet, actor: Actor, unit, items) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as exc:
        Classification.propose(unit, YEAR, items, rules, actor, date(YEAR, 11, 1))
    assert exc.value.reason == "POINTS_OUTSIDE_SCALE" and exc.value.kind is ErrorKind.INVALID_ARGUMENT


def test_the_competent_tier_decides_and_award_eligibility_is_derived(rules: RuleSet, actor: Actor) -> None:
    c = proposed(rules, actor, {"1": 30, "2": 30})
    with pytest.raises(DomainError) as exc:
        c.decide(decision(tinh_authority(), "5/QĐ"), rules, actor)
    assert exc.value.reason == "WRONG_AUTHORITY"
    c.decide(decision(xa_authority(), "5/QĐ-UBND", on=date(YEAR, 11, 18)), rules, actor)
    assert (c.level, c.award_eligible, c.late) == ("trung_binh", False, False)


def test_the_decider_may_adjust_points_and_a_late_decision_is_flagged(rules: RuleSet, actor: Actor) -> None:
    c = proposed(rules, actor)
    c.decide(decision(xa_authority(), "6/QĐ-UBND", on=date(YEAR, 11, 21)), rules, actor, items={"1": 40, "2": 35})
    assert (c.total, c.level, c.award_eligible, c.late) == (75, "kha", True, True)


def test_reclassification_is_its_own_event_with_the_previous_level(rules: RuleSet, actor: Actor) -> None:
    c = proposed(rules, actor)
    with pytest.raises(DomainError) as exc:
        c.reclassify({"1": 10}, "sai sót", decision(xa_authority(), "7/QĐ"), rules, actor, date(YEAR, 12, 5))
    assert exc.value.reason == "STEP_OUT_OF_ORDER"
    c.decide(decision(xa_authority(), "6/QĐ-UBND"), rules, actor)
    with pytest.raises(DomainError) as exc:
        c.reclassify(dict(c.items), "không đổi", decision(xa_authority(), "7/QĐ"), rules, actor, date(YEAR, 12, 5))
    assert exc.value.reason == "NOTHING_TO_RECLASSIFY"
    c.reclassify({"1": 30, "2": 25}, "Phát hiện vụ việc phức tạp chưa báo cáo",
                 decision(xa_authority(), "7/QĐ-UBND", on=date(YEAR, 12, 5)), rules, actor, date(YEAR, 12, 5))
    event = c.collect_events()[-1]
    assert type(event).__name__ == "Reclassified"
    assert (event.previous_level, event.level, event.award_eligible) == ("xuat_sac", "trung_binh", False)
    assert event.decision.number == "7/QĐ-UBND" and event.effective_date == date(YEAR, 12, 5)
    assert event.reason.startswith("Phát hiện") and event.actor == actor


def test_ineligible_units_are_not_classified(rules: RuleSet, actor: Actor) -> None:
    small = profile("DN-NHO", UnitType.DOANH_NGHIEP, eligible=False)
    with pytest.raises(DomainError) as exc:
        Classification.propose(small, YEAR, {"1": 3}, rules, actor, date(YEAR, 11, 1))
    assert exc.value.reason == "UNIT_NOT_ELIGIBLE"


def test_a_level_that_needs_recognition_is_skipped_for_an_unrecognised_unit(rules: RuleSet, actor: Actor) -> None:
    scale = rules.classification
    strict_levels = tuple(dataclasses.replace(lv, requires_recognition=lv.id == "xuat_sac") for lv in scale.levels)
    strict = dataclasses.replace(rules, classification=dataclasses.replace(scale, levels=strict_levels))
    recognised, not_recognised = proposed(strict, actor), proposed(strict, actor)
    recognised.decide(decision(xa_authority(), "8/QĐ"), strict, actor, recognised=True)
    not_recognised.decide(decision(xa_authority(), "8/QĐ"), strict, actor, recognised=False)
    assert (recognised.level, not_recognised.level) == ("xuat_sac", "kha")
    assert not_recognised.collect_events()[-1].recognised is False


def test_the_classifying_tier_is_configurable(rules: RuleSet, actor: Actor) -> None:
    scale = dataclasses.replace(rules.classification, decided_by={UnitType.KHU_DAN_CU: Tier.TINH})
    by_province = dataclasses.replace(rules, classification=scale)
    c = proposed(by_province, actor)
    with pytest.raises(DomainError) as exc:
        c.decide(decision(xa_authority(), "9/QĐ"), by_province, actor)
    assert exc.value.reason == "WRONG_AUTHORITY"
    c.decide(decision(tinh_authority(), "9/QĐ-UBND"), by_province, actor)
    assert c.state is ClassificationState.DA_QUYET_DINH

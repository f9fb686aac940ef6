"""Điển hình designation (QĐ 9745) and listing a commune's cases."""

from __future__ import annotations

from datetime import date

import pytest

from antt.actor import Actor
from antt.errors import DomainError
from services.assessment.application import Assessments
from services.assessment.domain.exemplary import ExemplaryDesignation
from services.assessment.domain.states import CaseState
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import RuleSet, Tier, UnitType

from .builders import REGISTERED_ON, YEAR, appraised_in_app, decision, evidence, profile, tinh_authority, xa_authority

pytestmark = pytest.mark.unit

COMMUNE_UNIT = profile("XA-00004", UnitType.XA_PHUONG, managed_by=Tier.TINH)
SCHOOL = profile("THPT-01", UnitType.CO_SO_GIAO_DUC)
ON = date(YEAR, 12, 15)


def test_a_commune_meeting_all_34_criteria_is_designated(rules: RuleSet, actor: Actor) -> None:
    d = ExemplaryDesignation.designate(COMMUNE_UNIT, YEAR, "qd9745-xa", 34, decision(tinh_authority(), on=ON),
                                       rules, actor, ON)
    assert (d.criteria_set_id, d.criteria_met, d.criteria_count, d.rule_set_id) == (
        "qd9745-xa", 34, 34, "tt124-tt48-2025")
    assert "exemplary.all_criteria_required" in rules.provisional


@pytest.mark.parametrize(("unit", "set_id", "met", "authority", "reason"), [
    (COMMUNE_UNIT, "qd9745-xa", 28, tinh_authority(), "UNMET_CRITERION"),     # 28 of 34 [S17]
    (COMMUNE_UNIT, "qd9745-cqdn", 0, tinh_authority(), "INVALID_FIELD"),      # set for agencies/schools
    (COMMUNE_UNIT, "qd9745-xa", 35, tinh_authority(), "INVALID_FIELD"),       # more than the set has
    (COMMUNE_UNIT, "qd9745-xa", 34, xa_authority(), "WRONG_AUTHORITY"),       # the commune itself
])
def test_designation_errors(rules: RuleSet, actor: Actor, unit, set_id, met, authority, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as exc:
        ExemplaryDesignation.designate(unit, YEAR, set_id, met, decision(authority, on=ON), rules, actor, ON)
    assert exc.value.reason == reason


def test_designation_once_a_year_and_withdrawal(app: Assessments, directory: StaticUnitDirectory,
                                                actor: Actor) -> None:
    directory.add(SCHOOL)
    d = app.designate_exemplary(SCHOOL.unit_id, YEAR, "qd9745-cqdn", 20, decision(tinh_authority(), on=ON), actor)
    with pytest.raises(DomainError) as exc:
        app.designate_exemplary(SCHOOL.unit_id, YEAR, "qd9745-cqdn", 20, decision(tinh_authority(), on=ON), actor)
    assert exc.value.reason == "SECOND_CASE_FOR_YEAR"
    with pytest.raises(DomainError) as exc:
        app.withdraw_exemplary(d.id, decision(xa_authority(), "2/QĐ", on=ON), "sai phạm", actor)
    assert exc.value.reason == "WRONG_AUTHORITY"
    withdrawn = app.withdraw_exemplary(d.id, decision(tinh_authority(), "2/QĐ-UBND", on=ON), "Vi phạm", actor)
    assert not withdrawn.active and app.verify_chains() == []


def test_cases_are_listed_by_commune_year_and_state(app: Assessments, directory: StaticUnitDirectory,
                                                    actor: Actor) -> None:
    villages = [profile(f"KDC-{i}", UnitType.KHU_DAN_CU) for i in range(3)]
    directory.add(*villages, profile("KDC-X", UnitType.KHU_DAN_CU, commune="00007"))
    appraised_in_app(app, villages[0], actor)
    for p in villages[1:]:
        app.register_case(p.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    assert len(app.list_cases("00004", YEAR)) == 3
    assert [c.unit_id for c in app.list_cases("00004", YEAR, CaseState.DA_THAM_DINH)] == [villages[0].unit_id]
    assert app.list_cases("00004", YEAR + 1) == [] and app.list_cases("00007", YEAR) == []

"""The Assessments application in memory: 70% rule, atomic decisions, history, as-of, rule changes, chains."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from antt.actor import Actor
from antt.errors import DomainError
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.states import CaseState, ClosureReason, Outcome
from services.assessment.domain.units import StaticUnitDirectory, UnitProfile
from services.assessment.domain.values import CoverageFigures, CriterionResult
from services.assessment.rules import RuleCatalogue, Tier, UnitType
from services.assessment.rules.model import Threshold

from .builders import (
    REGISTERED_ON, YEAR, appraised_in_app, decision, evidence, passing_results, profile, tinh_authority,
    xa_authority,
)

pytestmark = pytest.mark.unit

COMMUNE_UNIT = profile("XA-00004", UnitType.XA_PHUONG, managed_by=Tier.TINH)
VILLAGES = [profile(f"KDC-{i:02}", UnitType.KHU_DAN_CU) for i in range(1, 10)]
AGENCY = profile("CQ-01", UnitType.CO_QUAN)
PROVINCIAL_FIRM = profile("DN-TINH", UnitType.DOANH_NGHIEP, managed_by=Tier.TINH)   # not counted by default
MANAGED = [*VILLAGES, AGENCY]   # 10 units managed by the commune


@pytest.fixture
def commune(directory: StaticUnitDirectory) -> StaticUnitDirectory:
    """A commune with nine villages, an agency it manages and a firm the province manages."""
    directory.add(COMMUNE_UNIT, *MANAGED, PROVINCIAL_FIRM)
    return directory


def recognise(app: Assessments, units: list[UnitProfile], actor: Actor, number: str = "10/QĐ-UBND") -> None:
    """Drive units to appraisal and recognise them under one commune decision."""
    ids = [appraised_in_app(app, p, actor).id for p in units]
    app.decide_many({i: Outcome.DAT for i in ids}, decision(xa_authority(), number), actor)


def test_unknown_units_and_second_cases_are_rejected(app: Assessments, commune: StaticUnitDirectory,
                                                     actor: Actor) -> None:
    with pytest.raises(DomainError) as exc:
        app.register_case(profile("KHONG-CO", UnitType.KHU_DAN_CU).unit_id, YEAR, [evidence("REG-FORM")], actor)
    assert exc.value.reason == "UNIT_NOT_IN_REPLICA"
    app.register_case(AGENCY.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    with pytest.raises(DomainError) as exc:
        app.register_case(AGENCY.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    assert exc.value.reason == "SECOND_CASE_FOR_YEAR"
    assert app.register_case(AGENCY.unit_id, YEAR + 1, [evidence("REG-FORM")], actor, date(YEAR + 1, 1, 10))


def test_the_commune_needs_all_units_registered_and_seventy_percent_recognised(
        app: Assessments, commune: StaticUnitDirectory, actor: Actor) -> None:
    commune_case = appraised_in_app(app, COMMUNE_UNIT, actor)
    province = decision(tinh_authority(), "99/QĐ-UBND", on=date(YEAR, 11, 19))
    # 6 of 10 recognised, the other 4 not even registered: fails on both counts
    recognise(app, MANAGED[:6], actor)
    assert app.commune_coverage("00004", YEAR) == CoverageFigures(managed=10, registered=6, recognised=6)
    with pytest.raises(DomainError) as exc:
        app.decide_many({commune_case.id: Outcome.DAT}, province, actor)
    assert exc.value.reason == "COMMUNE_COVERAGE_NOT_MET"
    # all 10 registered, 6 recognised and 1 more not recognised: 60% < 70%
    for p in MANAGED[6:]:
        app.register_case(p.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    with pytest.raises(DomainError) as exc:
        app.decide_many({commune_case.id: Outcome.DAT}, province, actor)
    assert exc.value.reason == "COMMUNE_COVERAGE_NOT_MET"
    # 7 of 10 recognised: 70% reached
    case7 = app.get_case(AssessmentCase.create_id(MANAGED[6].unit_id, YEAR))
    rules = app.rules.get(case7.rule_set_id)
    app.record_self_assessment(case7.id, passing_results(rules, MANAGED[6]), actor, date(YEAR, 10, 1))
    app.submit(case7.id, [], actor, date(YEAR, 10, 2))
    app.appraise(case7.id, [], actor, date(YEAR, 10, 3))
    app.decide_many({case7.id: Outcome.DAT}, decision(xa_authority(), "11/QĐ-UBND"), actor)
    [decided] = app.decide_many({commune_case.id: Outcome.DAT}, province, actor)
    assert decided.state is CaseState.CONG_NHAN
    explained = {e.criterion_id: e for e in app.explain(decided.id).evaluations}
    assert (explained["XA-4a"].value, explained["XA-4b"].value, explained["XA-4b"].met) == (100, 70, True)


def test_the_denominator_can_include_province_managed_units(catalogue: RuleCatalogue,
                                                            commune: StaticUnitDirectory) -> None:
    current = catalogue.for_year(YEAR)
    wider = dataclasses.replace(current, coverage=dataclasses.replace(current.coverage,
                                                                       include_units_managed_above=True))
    app = Assessments(rules=RuleCatalogue([catalogue.get("tt124-2021"), wider]), units=commune)
    assert app.commune_coverage("00004", YEAR).managed == 11


def test_decide_many_is_atomic(app: Assessments, commune: StaticUnitDirectory, actor: Actor) -> None:
    good = [appraised_in_app(app, p, actor) for p in VILLAGES[:2]]
    bad = app.register_case(VILLAGES[2].unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    rules = app.rules.get(bad.rule_set_id)
    results = [r if r.criterion_id != "KDC-4c2" else CriterionResult("KDC-4c2", value=2)
               for r in passing_results(rules, VILLAGES[2])]
    app.record_self_assessment(bad.id, results, actor, date(YEAR, 10, 1))
    app.submit(bad.id, [], actor, date(YEAR, 10, 2))
    app.appraise(bad.id, [], actor, date(YEAR, 10, 3))
    ids = [good[0].id, bad.id, good[1].id]
    versions = [app.get_case(i).version for i in ids]
    with pytest.raises(DomainError) as exc:
        app.decide_many({i: Outcome.DAT for i in ids}, decision(xa_authority(), "12/QĐ-UBND"), actor)
    assert exc.value.reason == "UNMET_CRITERION"
    assert [app.get_case(i).version for i in ids] == versions
    assert all(app.get_case(i).state is CaseState.DA_THAM_DINH for i in ids)
    # the same document, with the failing unit not recognised, saves all three
    outcomes = {good[0].id: Outcome.DAT, bad.id: Outcome.CHUA_DAT, good[1].id: Outcome.DAT}
    app.decide_many(outcomes, decision(xa_authority(), "12/QĐ-UBND"), actor)
    cases = [app.get_case(i) for i in ids]
    assert [c.state for c in cases] == [CaseState.CONG_NHAN, CaseState.KHONG_CONG_NHAN, CaseState.CONG_NHAN]
    assert {c.decision.number for c in cases if c.decision} == {"12/QĐ-UBND"}


def test_a_rule_change_dated_next_year_leaves_this_years_decision_unchanged(
        app: Assessments, catalogue: RuleCatalogue, commune: StaticUnitDirectory, actor: Actor) -> None:
    recognise(app, VILLAGES[:1], actor)
    case_id = AssessmentCase.create_id(VILLAGES[0].unit_id, YEAR)
    before = app.explain(case_id)
    # next year: KDC-1c tightened and the levels moved; the current set is ended on 31/12
    current = catalogue.for_year(YEAR)
    ended = dataclasses.replace(current, in_force_to=date(YEAR, 12, 31))
    criteria = tuple(dataclasses.replace(c, threshold=Threshold(">=", 200, "%")) if c.id == "KDC-1c" else c
                     for c in current.criteria)
    nxt = dataclasses.replace(current, id="tt124-2027", in_force_from=date(YEAR + 1, 1, 1), in_force_to=None,
                              criteria=criteria)
    app.rules = RuleCatalogue([catalogue.get("tt124-2021"), ended, nxt])
    after = app.explain(case_id)
    assert after == before and after.rule_set_id == current.id
    assert app.get_case(case_id).state is CaseState.CONG_NHAN
    next_year = app.register_case(VILLAGES[0].unit_id, YEAR + 1, [evidence("REG-FORM")], actor,
                                  date(YEAR + 1, 1, 10))
    line = next(e for e in app.explain(next_year.id).evaluations if e.criterion_id == "KDC-1c")
    assert next_year.rule_set_id == "tt124-2027" and line.threshold == "≥ 200 %"


def test_a_case_as_of_a_past_recorded_time(app: Assessments, commune: StaticUnitDirectory, actor: Actor) -> None:
    case = appraised_in_app(app, VILLAGES[0], actor)
    app.decide_many({case.id: Outcome.DAT}, decision(xa_authority()), actor)
    history = app.history(case.id)
    assert [type(e).__name__ for e in history] == [
        "Registered", "SelfAssessmentRecorded", "Submitted", "Appraised", "Decided"]
    then = app.case_at(case.id, history[3].timestamp)
    assert then.state is CaseState.DA_THAM_DINH and app.get_case(case.id).state is CaseState.CONG_NHAN
    with pytest.raises(DomainError) as exc:
        app.case_at(case.id, history[0].timestamp.replace(year=YEAR - 1))
    assert exc.value.reason == "CASE_NOT_FOUND"


def test_classification_as_of_before_reclassification_shows_the_old_level(
        app: Assessments, commune: StaticUnitDirectory, actor: Actor) -> None:
    c = app.propose_classification(AGENCY.unit_id, YEAR, {"1": 3, "2": 3, "3": 5, "4": 80}, actor,
                                   date(YEAR, 11, 1))
    app.classify(c.id, decision(xa_authority(), "20/QĐ-UBND", on=date(YEAR, 11, 25)), actor)
    decided_at = app.history(c.id)[-1].timestamp
    app.reclassify(c.id, {"1": 3, "2": 3, "3": 5, "4": 60}, "Kết quả kiểm tra lại",
                   decision(xa_authority(), "21/QĐ-UBND", on=date(YEAR, 12, 10)), actor)
    assert app.get_classification(c.id).level == "kha"
    assert app.as_of(c.id, decided_at).level == "xuat_sac"
    with pytest.raises(DomainError) as exc:
        app.propose_classification(AGENCY.unit_id, YEAR, {"1": 3}, actor, date(YEAR, 11, 1))
    assert exc.value.reason == "SECOND_CASE_FOR_YEAR"


def test_hash_chains_verify_and_a_changed_byte_is_named(app: Assessments, commune: StaticUnitDirectory,
                                                       actor: Actor) -> None:
    recognise(app, VILLAGES[:3], actor)
    c = app.propose_classification(AGENCY.unit_id, YEAR, {"1": 3, "2": 3}, actor, date(YEAR, 11, 1))
    app.classify(c.id, decision(xa_authority(), "20/QĐ-UBND"), actor)
    case = app.revoke(AssessmentCase.create_id(VILLAGES[0].unit_id, YEAR), decision(tinh_authority(), "30/QĐ"),
                      "Thu hồi do che giấu vụ việc", actor, date(YEAR, 12, 1))
    assert case.state is CaseState.THU_HOI
    assert app.verify_chains() == []
    # tamper with one stored event in the in-memory recorder (a test-only reach into its list)
    stored = app.recorder._stored_events  # type: ignore[attr-defined]
    index = next(i for i, s in enumerate(stored) if s.topic.endswith("AssessmentCase.Decided"))
    tampered = stored[index].state.replace("10/QĐ".encode(), "19/QĐ".encode())
    assert tampered != stored[index].state
    stored[index] = dataclasses.replace(stored[index], state=tampered)
    breaks = app.verify_chains()
    assert [(b.originator_id, b.version) for b in breaks] == [(str(stored[index].originator_id), 5)]


def test_a_concurrent_change_saves_nothing(app: Assessments, commune: StaticUnitDirectory, actor: Actor) -> None:
    case = appraised_in_app(app, VILLAGES[0], actor)
    stale = app.get_case(case.id)
    app.decide_many({case.id: Outcome.DAT}, decision(xa_authority()), actor)
    # a second command that loaded the case before the decision tries to save on top of it
    stale.close(ClosureReason.KHAC, "", actor, date(YEAR, 11, 11))
    with pytest.raises(DomainError) as exc:
        app._save_changes(stale)
    assert exc.value.reason == "CONCURRENT_UPDATE" and app.get_case(case.id).state is CaseState.CONG_NHAN


def test_classification_reads_the_units_recognition_from_its_case(catalogue: RuleCatalogue,
                                                                 commune: StaticUnitDirectory, actor: Actor) -> None:
    current = catalogue.for_year(YEAR)
    scale = current.classification
    levels = tuple(dataclasses.replace(lv, requires_recognition=lv.id == "xuat_sac") for lv in scale.levels)
    strict = dataclasses.replace(current, classification=dataclasses.replace(scale, levels=levels))
    app = Assessments(rules=RuleCatalogue([catalogue.get("tt124-2021"), strict]), units=commune)
    recognise(app, [AGENCY], actor)
    levels_by_unit = {}
    for unit in (AGENCY, VILLAGES[0]):
        c = app.propose_classification(unit.unit_id, YEAR, {"1": 3, "2": 3, "3": 5, "4": 84}, actor,
                                       date(YEAR, 11, 1))
        levels_by_unit[unit.code] = app.classify(c.id, decision(xa_authority(), "20/QĐ-UBND"), actor).level
    assert levels_by_unit == {"CQ-01": "xuat_sac", "KDC-01": "kha"}

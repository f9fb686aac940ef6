"""Lists of registrations and appraisal sessions: each item ends as the single command would end it."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.errors import DomainError
from services.assessment.application import Appraisal, Assessments, Registration
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.domain.values import Finding
from services.assessment.rules import load_catalogue, UnitType

from .builders import REGISTERED_ON, YEAR, evidence, passing_results, profile

pytestmark = pytest.mark.unit

CATALOGUE = load_catalogue()
ACTOR = Actor(id="user:can-bo-xa", role="can_bo", tier="xa", jurisdiction="00004")
POOL = [*(profile(f"KDC-B{i}", UnitType.KHU_DAN_CU) for i in range(4)),
        profile("DN-NHO", UnitType.DOANH_NGHIEP, eligible=False),
        profile("KHONG-CO-TRONG-BAN-SAO", UnitType.CO_QUAN)]  # the last is not in the replica
KNOWN = POOL[:-1]


def new_app() -> Assessments:
    units = StaticUnitDirectory()
    units.add(*KNOWN)
    return Assessments(rules=CATALOGUE, units=units)


def outcome(result: AssessmentCase | DomainError) -> tuple[object, ...]:
    """What an officer sees of one item: the refusal's reason, or the case's unit, state and version."""
    if isinstance(result, DomainError):
        return ("refused", result.reason, result.kind)
    return ("ok", result.unit_code, result.state, result.version, result.registered_late)


def single(fn: object, *args: object) -> AssessmentCase | DomainError:
    try:
        return fn(*args)  # type: ignore[operator, no-any-return]
    except DomainError as refused:
        return refused


def stored_types(app: Assessments) -> list[tuple[str, str, int]]:
    return [(type(e).__qualname__, str(e.originator_id), e.originator_version)
            for e in (app.mapper.to_domain_event(n) for n in app.iter_notifications())]


registration = st.builds(lambda p, d, form: Registration(p.unit_id, YEAR, (evidence("REG-FORM" if form else "KHAC"),),
                                                          d),
                         st.sampled_from(POOL), st.sampled_from([REGISTERED_ON, date(YEAR, 2, 20), date(YEAR + 1, 1, 1)]),
                         st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(earlier=st.lists(registration, max_size=3), batch=st.lists(registration, min_size=1, max_size=8))
def test_a_list_of_registrations_ends_as_the_single_commands_would(earlier: list[Registration],
                                                                   batch: list[Registration]) -> None:
    listed, one_by_one = new_app(), new_app()
    for r in earlier:  # cases some units registered before the list was recorded
        for app in (listed, one_by_one):
            single(app.register_case, r.unit_id, r.year, r.dossier, ACTOR, r.effective_date)
    got = listed.register_cases(batch, ACTOR)
    want = [single(one_by_one.register_case, r.unit_id, r.year, r.dossier, ACTOR, r.effective_date) for r in batch]
    assert [outcome(g) for g in got] == [outcome(w) for w in want]
    assert stored_types(listed) == stored_types(one_by_one)  # the same per-case events, nothing else


def submitted(app: Assessments, p: object) -> AssessmentCase:
    case = app.register_case(p.unit_id, YEAR, [evidence("REG-FORM")], ACTOR, REGISTERED_ON)  # type: ignore[attr-defined]
    rules = app.rules.get(case.rule_set_id)
    app.record_self_assessment(case.id, passing_results(rules, p), ACTOR, date(YEAR, 10, 1))  # type: ignore[arg-type]
    return app.submit(case.id, [evidence("REC-REQUEST")], ACTOR, date(YEAR, 10, 5))


appraisal_kind = st.sampled_from(["appraise", "return", "bad-finding", "unknown", "registered-only"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(appraisal_kind, min_size=1, max_size=4))
def test_an_appraisal_session_ends_as_the_single_commands_would(kinds: list[str]) -> None:
    apps = new_app(), new_app()
    items: list[Appraisal] = []
    for n, kind in enumerate(kinds):
        p = KNOWN[n]
        cases = [submitted(app, p) if kind != "registered-only" else
                 app.register_case(p.unit_id, YEAR, [evidence("REG-FORM")], ACTOR, REGISTERED_ON) for app in apps]
        case_id = cases[0].id if kind != "unknown" else AssessmentCase.create_id(POOL[-1].unit_id, YEAR)
        findings = (Finding("KHONG-CO-TIEU-CHI", met=True),) if kind == "bad-finding" else ()
        items.append(Appraisal(case_id, findings, "Thiếu biên bản" if kind == "return" else "", date(YEAR, 10, 20)))
    listed, one_by_one = apps
    got = listed.appraise_cases(items, ACTOR)
    want = [single(one_by_one.appraise, a.case_id, list(a.findings), ACTOR, a.effective_date, a.return_reason)
            for a in items]
    assert [outcome(g) for g in got] == [outcome(w) for w in want]
    assert stored_types(listed) == stored_types(one_by_one)


def test_a_list_where_every_item_is_refused_writes_nothing() -> None:
    app = new_app()
    got = app.register_cases([Registration(POOL[-1].unit_id, YEAR, (evidence("REG-FORM"),), REGISTERED_ON),
                              Registration(POOL[-2].unit_id, YEAR, (evidence("REG-FORM"),), REGISTERED_ON)], ACTOR)
    assert [outcome(g)[1] for g in got] == ["UNIT_NOT_IN_REPLICA", "UNIT_NOT_ELIGIBLE"]
    unknown = AssessmentCase.create_id(POOL[0].unit_id, YEAR)
    assert [outcome(g)[1] for g in app.appraise_cases([Appraisal(unknown)], ACTOR)] == ["CASE_NOT_FOUND"]
    assert stored_types(app) == []

"""Results and findings read from requests are shared between equal requests; everything they make
(stored bytes, chain digests, evaluation lines, validation, replies) is what fresh values make."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.eventstore.hashchain import SHARED, canonical_json
from antt.events.v1 import assessment_pb2 as events_pb
from services.assessment.api import converters as cv
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.errors import InvalidAssessmentError
from services.assessment.domain.evaluation import UnitFacts, evaluate, validate_result
from services.assessment.domain.states import Outcome
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.domain.values import CriterionResult, EvidenceRef, Finding
from services.assessment.published import finding_pb, result_pb
from services.assessment.rules import RuleCatalogue, UnitType

from .builders import YEAR, decision, evidence, passing_results, profile, xa_authority

pytestmark = pytest.mark.unit


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def fresh_result(r: events_pb.AssessmentCriterionResult) -> CriterionResult:
    """The reference: a new value from the request fields, as before sharing."""
    return CriterionResult(criterion_id=r.criterion_id, met=_opt(r, "met"), value=_opt(r, "value"),
                           previous_value=_opt(r, "previous_value"), not_applicable=r.not_applicable,
                           evidence=tuple(EvidenceRef(kind=e.kind, uri=e.uri, sha256=e.sha256, title=e.title)
                                          for e in r.evidence), note=r.note)


def fresh_finding(f: events_pb.AssessmentFinding) -> Finding:
    """The reference for findings."""
    return Finding(criterion_id=f.criterion_id, met=_opt(f, "met"), value=_opt(f, "value"),
                   previous_value=_opt(f, "previous_value"), not_applicable=f.not_applicable, note=f.note)


def typed(value: Any) -> Any:
    """A value's fields with their types and float spellings (1, 1.0 and True, 0.0 and -0.0 differ)."""
    if isinstance(value, (CriterionResult, Finding, EvidenceRef)):
        return (type(value).__name__, *(typed(getattr(value, n)) for n in value.__dataclass_fields__))
    if isinstance(value, tuple):
        return tuple(typed(v) for v in value)
    return (type(value).__name__, repr(value))


FLOATS = st.none() | st.sampled_from([0.0, -0.0, 1.0, 3.0, 5.0, 1e-300, 2.5])
SHA = "a" * 64


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["1.1", "1.2", "2.1"]), st.none() | st.booleans(), FLOATS, FLOATS, st.booleans(),
       st.lists(st.sampled_from(["x", "y"]), max_size=2), st.sampled_from(["", "ghi chú"]))
def test_a_shared_value_is_the_value_the_request_gives(cid: str, met: bool | None, value: float | None,
                                                         previous: float | None, na: bool, docs: list[str],
                                                         note: str) -> None:
    r = events_pb.AssessmentCriterionResult(criterion_id=cid, not_applicable=na, note=note, evidence=[
        events_pb.AssessmentEvidence(kind="K", uri=f"s3://{d}", sha256=SHA, title=d) for d in docs])
    f = events_pb.AssessmentFinding(criterion_id=cid, not_applicable=na, note=note)
    for m in (r, f):
        if met is not None:
            m.met = met
        if value is not None:
            m.value = value
        if previous is not None:
            m.previous_value = previous
    cv._shared_values.clear()
    first = cv.result_from_pb(r)
    assert typed(first) == typed(fresh_result(r)) and SHARED not in first.__dict__  # once: nothing kept on it
    shared = cv.result_from_pb(events_pb.AssessmentCriterionResult.FromString(r.SerializeToString(deterministic=True)))
    assert shared is first and SHARED in shared.__dict__  # twice: shared, forms remembered from now on
    assert typed(cv.finding_from_pb(f)) == typed(fresh_finding(f))
    assert typed(cv.finding_from_pb(f)) == typed(fresh_finding(f))
    # the forms remembered on a shared value are those of a fresh one
    assert canonical_json(shared) == canonical_json(fresh_result(r))
    assert canonical_json(shared, compact=False) == canonical_json(fresh_result(r), compact=False)
    assert cv._message(shared, result_pb) == result_pb(fresh_result(r))


def test_a_reply_never_changes_the_message_remembered_on_a_shared_value() -> None:
    r = [cv.result_from_pb(events_pb.AssessmentCriterionResult(criterion_id="1.1", met=True)) for _ in range(2)][1]
    assert SHARED in r.__dict__
    remembered = cv._message(r, result_pb)
    reply = cv.pb.Case(results=[remembered])
    reply.results[0].criterion_id = "changed"
    assert cv._message(r, result_pb).criterion_id == "1.1" and remembered.criterion_id == "1.1"


def test_validation_remembered_for_one_criteria_set_is_not_taken_for_another(catalogue: RuleCatalogue) -> None:
    rules = catalogue.for_year(YEAR)
    ids = {t: {c.id for c in rules.criteria_for(t, "01")} for t in (UnitType.KHU_DAN_CU, UnitType.XA_PHUONG)}
    only = sorted(ids[UnitType.KHU_DAN_CU] - ids[UnitType.XA_PHUONG])
    assert only, "the two types need a criterion of their own for this test"
    kdc = UnitFacts(UnitType.KHU_DAN_CU, "01", "00004", profile("X", UnitType.KHU_DAN_CU).managed_by)
    xa = UnitFacts(UnitType.XA_PHUONG, "01", "00004", profile("X", UnitType.XA_PHUONG).managed_by)
    good = next(r for r in passing_results(rules, profile("KDC", UnitType.KHU_DAN_CU)) if r.criterion_id in only)
    shared = [cv.result_from_pb(result_pb(good)) for _ in range(2)][1]
    assert SHARED in shared.__dict__
    validate_result(rules, kdc, shared)
    validate_result(rules, kdc, shared)  # remembered
    with pytest.raises(InvalidAssessmentError) as shared_error:
        validate_result(rules, xa, shared)
    with pytest.raises(InvalidAssessmentError) as fresh_error:
        validate_result(rules, xa, fresh_result(result_pb(good)))
    assert shared_error.value.message_en == fresh_error.value.message_en
    bad = [cv.result_from_pb(events_pb.AssessmentCriterionResult(criterion_id=only[0])) for _ in range(2)][1]
    assert SHARED in bad.__dict__  # neither met nor value
    for _ in range(2):  # a failure is never remembered as a pass
        with pytest.raises(InvalidAssessmentError):
            validate_result(rules, kdc, bad)


def year(app: Assessments, units: list[Any], actor: Actor, read: Any, findings: list[Any]) -> list[bytes]:
    """Every unit through self-assessment, appraisal and one decision; the replies (times blanked)."""
    rules = app.rules.for_year(YEAR)
    replies = []
    cases = [app.register_case(p.unit_id, YEAR, [evidence("REG-FORM", p.code)], actor, date(YEAR, 1, 15))
             for p in units]
    for p, case in zip(units, cases):
        results = [read[0](result_pb(r)) for r in passing_results(rules, p)]
        replies.append(cv.case_to_pb(app.submit_self_assessed(case.id, results, [evidence("REC-REQUEST", p.code)],
                                                              actor, date(YEAR, 10, 5), date(YEAR, 10, 1))))
        replies.append(cv.case_to_pb(app.appraise(case.id, [read[1](f) for f in findings], actor,
                                                  date(YEAR, 10, 20))))
    decided = app.decide_many({c.id: Outcome.DAT for c in cases}, decision(xa_authority()), actor)
    replies += [cv.case_to_pb(c) for c in decided]
    for reply in replies:
        reply.last_recorded_at = ""
    return [r.SerializeToString(deterministic=True) for r in replies]


def test_a_year_with_shared_values_stores_and_answers_what_fresh_values_give(catalogue: RuleCatalogue,
                                                                            actor: Actor) -> None:
    units = [profile(f"KDC-{n}", UnitType.KHU_DAN_CU) for n in range(6)]
    rules = catalogue.for_year(YEAR)
    some = passing_results(rules, units[0])[:2]
    findings = [finding_pb(Finding(r.criterion_id, met=r.met, value=r.value, previous_value=r.previous_value))
                for r in some]
    apps = [Assessments(rules=catalogue, units=StaticUnitDirectory(units)) for _ in range(2)]
    shared = year(apps[0], units, actor, (cv.result_from_pb, cv.finding_from_pb), findings)
    fresh = year(apps[1], units, actor, (fresh_result, fresh_finding), findings)
    assert shared == fresh
    for app in apps:
        assert app.verify_chains() == []  # every digest recomputed from decoded (unshared) values
        for n in app.iter_notifications():  # and every stored state is what the decoded event encodes
            assert app.mapper.to_stored_event(app.mapper.to_domain_event(n)).state == n.state
    states = [[(n.originator_id, n.originator_version, n.topic) for n in app.iter_notifications()] for app in apps]
    assert states[0] == states[1]
    decided = [[c for c in (app.get_case(AssessmentCase.create_id(p.unit_id, YEAR)) for p in units)] for app in apps]
    for a, b in zip(*decided):
        assert canonical_json(a.evaluations) == canonical_json(b.evaluations)
        assert a.assessment_digest() == b.assessment_digest() and a.decided_on_digest == b.decided_on_digest
        assert canonical_json(evaluate(rules, a.unit, a.results, a.findings, None)) == canonical_json(a.evaluations)

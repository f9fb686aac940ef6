"""SubmitCase with its self-assessment: the two events of RecordSelfAssessment then SubmitCase, in one save."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.errors import DomainError
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.values import CriterionResult
from services.assessment.rules import UnitType

from .builders import REGISTERED_ON, YEAR, evidence, passing_results
from .test_batch_commands import ACTOR, CATALOGUE, KNOWN, POOL, new_app, outcome, single

pytestmark = pytest.mark.unit

SKIPPED = ("timestamp", "digest", "prev_digest")  # differ between two stores by the time they were written


def stored(app: Assessments) -> list[tuple[Any, ...]]:
    """Every stored event: its type, aggregate, version and payload (time-dependent fields aside)."""
    out = []
    for n in app.iter_notifications():
        e = app.mapper.to_domain_event(n)
        out.append((type(e).__qualname__, e.originator_id, e.originator_version,
                    {k: v for k, v in e.__dict__.items() if k not in SKIPPED}))
    return out


def results_for(kind: str, unit: Any) -> list[CriterionResult]:
    full = passing_results(CATALOGUE.for_year(YEAR), unit)
    return {"passing": full, "one-missing": full[1:], "unknown-criterion": [CriterionResult("KHONG-CO", met=True)],
            "empty": [], "repeated": full[:1] * 2}[kind]


case_kinds = st.sampled_from(["registered", "self-assessed", "submitted", "unknown"])
result_kinds = st.sampled_from(["passing", "one-missing", "unknown-criterion", "empty", "repeated"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case_kind=case_kinds, result_kind=result_kinds, with_documents=st.booleans(), n=st.integers(0, 3),
       cached=st.booleans())
def test_one_call_ends_as_the_two_commands_would(case_kind: str, result_kind: str, with_documents: bool, n: int,
                                                 cached: bool) -> None:
    unit = KNOWN[n]
    combined, two = new_app(), new_app()
    case_id = AssessmentCase.create_id(unit.unit_id if case_kind != "unknown" else POOL[-1].unit_id, YEAR)
    for app in (combined, two):
        if case_kind == "unknown":
            continue
        app.register_case(unit.unit_id, YEAR, [evidence("REG-FORM")], ACTOR, REGISTERED_ON)
        if case_kind in ("self-assessed", "submitted"):
            app.record_self_assessment(case_id, passing_results(CATALOGUE.for_year(YEAR), unit), ACTOR,
                                       date(YEAR, 9, 1))
        if case_kind == "submitted":
            app.submit(case_id, [evidence("REC-REQUEST")], ACTOR, date(YEAR, 9, 5))
    if not cached:
        combined.cases.evict(case_id)  # the command reads the stored case
    before = stored(combined)
    results = results_for(result_kind, unit)
    documents = [evidence("BIEN-BAN", "bien-ban")] if with_documents else []
    got = single(combined.submit_self_assessed, case_id, results, [evidence("REC-REQUEST")], ACTOR,
                 date(YEAR, 10, 5), date(YEAR, 10, 1), documents)
    first = single(two.record_self_assessment, case_id, results, ACTOR, date(YEAR, 10, 1), documents)
    want = first if isinstance(first, DomainError) else single(two.submit, case_id, [evidence("REC-REQUEST")],
                                                                ACTOR, date(YEAR, 10, 5))
    assert outcome(got) == outcome(want)
    if isinstance(want, DomainError):
        assert stored(combined) == before  # both or neither: no self-assessment without its submission
    else:
        assert stored(combined) == stored(two)  # the same two events, field for field
        assert isinstance(got, AssessmentCase) and got.assessment_digest() == want.assessment_digest()
        assert combined.get_case(case_id).assessment_digest() == got.assessment_digest()
    assert combined.verify_chains() == []


def test_the_self_assessment_date_defaults_to_the_submission_date() -> None:
    app = new_app()
    unit = KNOWN[0]
    case = app.register_case(unit.unit_id, YEAR, [evidence("REG-FORM")], ACTOR, REGISTERED_ON)
    got = app.submit_self_assessed(case.id, passing_results(CATALOGUE.for_year(YEAR), unit),
                                   [evidence("REC-REQUEST")], ACTOR, date(YEAR, 10, 5))
    events = app.history(case.id)
    assert [type(e).__qualname__ for e in events][-2:] == ["AssessmentCase.SelfAssessmentRecorded",
                                                            "AssessmentCase.Submitted"]
    assert events[-2].effective_date == events[-1].effective_date == date(YEAR, 10, 5)
    assert got.version == 3 and unit.unit_type is UnitType.KHU_DAN_CU

"""The case cache: commands on cached cases end exactly as on the stored history, even when it is stale."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from antt.actor import Actor
from antt.errors import DomainError
from antt.eventstore.hashchain import canonical
from services.assessment.application import Assessments
from services.assessment.case_cache import CaseCache, clone
from services.assessment.domain.assessment_case import DIGEST_MEMO, AssessmentCase
from services.assessment.domain.states import CaseState, ClosureReason, Outcome
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import RuleCatalogue, UnitType

from .builders import (
    REGISTERED_ON, YEAR, appraised_in_app, decision, evidence, passing_results, profile, xa_authority,
)

pytestmark = pytest.mark.unit

VILLAGES = [profile(f"KDC-C{i:02}", UnitType.KHU_DAN_CU) for i in range(1, 4)]


def state(case: AssessmentCase) -> object:
    """Everything a case holds, for comparing two ways of getting it (a stored tuple comes back a list)."""
    return canonical({k: v for k, v in case.__dict__.items() if k not in ("_pending_events", DIGEST_MEMO)})


@pytest.fixture
def units() -> StaticUnitDirectory:
    directory = StaticUnitDirectory()
    directory.add(*VILLAGES)
    return directory


def test_cached_cases_equal_the_stored_ones_after_every_step(app: Assessments, units: StaticUnitDirectory,
                                                             actor: Actor) -> None:
    app.units = units
    case = appraised_in_app(app, VILLAGES[0], actor)
    assert app.cases.hits >= 3  # self-assessment, submission and appraisal started from the cache
    cached = app.cases.get(case.id)
    stored = app.repository.get(case.id)
    assert state(cached) == state(stored) and cached.assessment_digest() == stored.assessment_digest()
    app.decide_many({case.id: Outcome.DAT}, decision(xa_authority()), actor)
    assert state(app.cases.get(case.id)) == state(app.repository.get(case.id))


def test_a_copy_never_changes_the_cached_case(app: Assessments, units: StaticUnitDirectory, actor: Actor) -> None:
    app.units = units
    case = appraised_in_app(app, VILLAGES[0], actor)
    before = state(app.cases.get(case.id))
    copy = app.cases.get(case.id)
    copy.findings["x"] = "changed"
    copy.results.clear()
    copy.close(ClosureReason.KHAC, "", actor, date(YEAR, 11, 1))  # a command that is then not saved
    assert state(app.cases.get(case.id)) == before


def test_a_failed_command_on_the_cache_is_decided_by_the_store(app: Assessments, units: StaticUnitDirectory,
                                                               actor: Actor) -> None:
    app.units = units
    case = app.register_case(VILLAGES[0].unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    with pytest.raises(DomainError) as exc:  # out of order, on the cached and then on the stored case
        app.submit(case.id, [evidence("REC-REQUEST")], actor, date(YEAR, 10, 5))
    assert exc.value.reason == "STEP_OUT_OF_ORDER"
    assert app.repository.get(case.id).version == 1


def test_a_stale_cache_behind_another_writer_changes_no_outcome(tmp_path: Path, catalogue: RuleCatalogue,
                                                                units: StaticUnitDirectory, actor: Actor) -> None:
    url = f"sqlite:///{tmp_path}/assessment.db"
    first, second = (Assessments(url, rules=catalogue, units=units) for _ in range(2))  # two replicas
    rules = catalogue.for_year(YEAR)
    case = first.register_case(VILLAGES[0].unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    second.cases.put(second.repository.get(case.id))  # the second replica has seen the case registered
    first.record_self_assessment(case.id, passing_results(rules, VILLAGES[0]), actor, date(YEAR, 10, 1))
    # the second's cache says "registered": submitting would be out of order there, not in the store
    submitted = second.submit(case.id, [evidence("REC-REQUEST")], actor, date(YEAR, 10, 5))
    assert submitted.state is CaseState.DA_NOP and submitted.version == 3
    # and a command that the stale copy would accept but the store would not is refused
    second.cases.put(second.repository.get(case.id))
    first.close_case(case.id, ClosureReason.KHAC, "", actor, date(YEAR, 10, 6))
    with pytest.raises(DomainError) as exc:
        second.appraise(case.id, [], actor, date(YEAR, 10, 20))
    assert exc.value.reason == "STEP_OUT_OF_ORDER"
    assert second.repository.get(case.id).state is CaseState.DA_DONG
    assert [b for b in second.verify_chains()] == []


def test_the_cache_is_bounded_and_keeps_the_latest_version(app: Assessments, units: StaticUnitDirectory,
                                                           actor: Actor) -> None:
    app.units = units
    small = CaseCache(maxsize=2)
    cases = [app.register_case(p.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON) for p in VILLAGES]
    for c in cases:
        small.put(c)
    assert len(small) == 2 and small.get(cases[0].id) is None
    newer = clone(cases[2])
    newer.close(ClosureReason.KHAC, "", actor, date(YEAR, 3, 1))
    newer.collect_events()
    small.put(newer)
    small.put(cases[2])  # an older state never replaces a newer one
    assert small.get(cases[2].id).state is CaseState.DA_DONG


def test_the_70_percent_rule_reads_the_store_past_a_stale_cache(tmp_path: Path, catalogue: RuleCatalogue,
                                                                units: StaticUnitDirectory, actor: Actor) -> None:
    url = f"sqlite:///{tmp_path}/assessment.db"
    first, second = (Assessments(url, rules=catalogue, units=units) for _ in range(2))  # two replicas
    cases = [appraised_in_app(first, p, actor) for p in VILLAGES]
    for c in cases:
        second.cases.put(second.repository.get(c.id))  # the second has seen them appraised, not decided
    assert second.commune_coverage(VILLAGES[0].commune_code, YEAR).recognised == 0
    first.decide_many({c.id: Outcome.DAT for c in cases[:2]}, decision(xa_authority()), actor)
    figures = second.commune_coverage(VILLAGES[0].commune_code, YEAR)
    assert (figures.managed, figures.registered, figures.recognised) == (3, 3, 2)
    assert figures == first.commune_coverage(VILLAGES[0].commune_code, YEAR)


def test_the_remembered_digest_is_always_the_digest_of_the_assessment_as_it_stands(
        app: Assessments, units: StaticUnitDirectory, actor: Actor) -> None:
    app.units = units
    rules = app.rules.get(app.rules.for_year(YEAR).id)

    def fresh(case: AssessmentCase) -> str:
        bare = clone(case)
        bare.__dict__.pop(DIGEST_MEMO, None)
        return bare.assessment_digest()

    case = app.register_case(VILLAGES[0].unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    seen = [case.assessment_digest()]
    steps = [lambda: app.record_self_assessment(case.id, passing_results(rules, VILLAGES[0]), actor,
                                                date(YEAR, 10, 1), [evidence("REC-MINUTES", "bb")]),
             lambda: app.submit(case.id, [evidence("REC-REQUEST")], actor, date(YEAR, 10, 5)),
             lambda: app.appraise(case.id, [], actor, date(YEAR, 10, 20), "Thiếu tờ trình"),
             lambda: app.submit(case.id, [evidence("REC-REQUEST", "bo-sung")], actor, date(YEAR, 10, 25)),
             lambda: app.appraise(case.id, [], actor, date(YEAR, 10, 28)),
             lambda: app.decide_many({case.id: Outcome.DAT}, decision(xa_authority()), actor)[0]]
    for step in steps:
        now = step()
        digest = now.assessment_digest()
        assert digest == fresh(now) == app.repository.get(case.id).assessment_digest()
        assert app.cases.get(case.id).assessment_digest() == digest
        seen.append(digest)
    assert seen[0] != seen[1] != seen[2] != seen[4]  # results, then documents, then more documents
    assert seen[-1] == seen[-2]  # findings-free appraisals and the decision change no assessment


def test_the_criteria_worked_out_once_are_the_rule_sets_own(catalogue: RuleCatalogue) -> None:
    from services.assessment.domain.evaluation import UnitFacts, criteria_by_id, declarable
    from services.assessment.rules import Tier

    for rules in catalogue.rule_sets:
        for unit_type in UnitType:
            for province in ("", "01", "31", *rules.provincial_criteria):
                unit = UnitFacts(unit_type, province, "00004", Tier.XA)
                by_id = {c.id: c for c in rules.criteria_for(unit_type, province)}
                ids = [c.id for c in by_id.values()
                       if not c.computed and not (c.derived_from and all(d in by_id for d in c.derived_from))]
                for _ in range(2):  # worked out, then remembered
                    assert dict(criteria_by_id(rules, unit)) == by_id and declarable(rules, unit) == ids

"""The 70% rule read with one query per commune gives the figures (and decisions) of the per-unit reads.

`Assessments.commune_coverage` asks the store for the last version of every case of the commune at
once (`latest_versions`); the reference is the per-case `_latest` read it replaced. Units in every
state, their cases cached, not cached or cached behind the store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from antt.actor import Actor
from antt.errors import DomainError
from antt.testing import postgres
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.states import CaseState, ClosureReason, Outcome
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.domain.values import CoverageFigures
from services.assessment.rules import RuleCatalogue, Tier, UnitType, load_catalogue
from tests.conftest import postgres_server_url
from tests.unit.assessment.builders import (
    REGISTERED_ON, YEAR, decision, evidence, passing_results, profile, tinh_authority, xa_authority,
)

pytestmark = pytest.mark.integration

ACTOR = Actor(id="user:can-bo-xa", role="can_bo", tier="xa", jurisdiction="00004")
STAGES = ("none", "registered", "appraised", "recognised", "not_recognised", "closed")
CACHE = ("cached", "cold", "stale")  # stale: the cache holds the case as it was one step earlier
COMMUNES = itertools.count(1)


@pytest.fixture(scope="module")
def catalogue() -> RuleCatalogue:
    """The packaged rule sets."""
    return load_catalogue()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """The assessment store: in memory, a SQLite file or a fresh PostgreSQL database."""
    if request.param == "memory":
        yield None
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assessment.db'}"
    else:
        try:
            with postgres.temporary_databases(postgres_server_url()) as (url,):
                yield url
        except postgres.PostgresUnavailable as exc:
            pytest.fail(str(exc)) if os.environ.get("CI") == "true" else pytest.skip(str(exc))


def per_unit_coverage(app: Assessments, commune: str) -> CoverageFigures:
    """The figures as the code before `latest_versions` counted them: one store read per unit."""
    rule = app.rules.for_year(YEAR).coverage
    managed = [p for p in app.units.in_commune(commune) if p.eligible and p.managed_by_commune(rule)]
    registered = recognised = 0
    for p in managed:
        case = app._latest(AssessmentCase.create_id(p.unit_id, YEAR))
        if case is not None and case.state is not CaseState.DA_DONG:
            registered += 1
            recognised += case.state is CaseState.CONG_NHAN
    return CoverageFigures(managed=len(managed), registered=registered, recognised=recognised)


def drive(app: Assessments, p: object, stage: str, cache: str) -> None:
    """Take a unit's case to `stage`, then leave the cache as `cache` says."""
    if stage == "none":
        return
    unit_id = p.unit_id  # type: ignore[attr-defined]
    case = app.register_case(unit_id, YEAR, [evidence("REG-FORM")], ACTOR, REGISTERED_ON)
    earlier = case
    if stage == "closed":
        earlier, case = case, app.close_case(case.id, ClosureReason.GIAI_THE, "giải thể", ACTOR, date(YEAR, 3, 1))
    elif stage != "registered":
        earlier = app.submit_self_assessed(case.id, passing_results(app.rules.get(case.rule_set_id), p),  # type: ignore[arg-type]
                                           [evidence("REC-REQUEST")], ACTOR, date(YEAR, 10, 5), date(YEAR, 10, 1))
        case = app.appraise(case.id, [], ACTOR, date(YEAR, 10, 20))
        if stage in ("recognised", "not_recognised"):
            earlier = case
            outcome = Outcome.DAT if stage == "recognised" else Outcome.CHUA_DAT
            case = app.decide_many({case.id: outcome}, decision(xa_authority(p.commune_code)), ACTOR)[0]  # type: ignore[attr-defined]
    if cache != "cached":
        app.cases.evict(case.id)
    if cache == "stale" and earlier is not case:
        app.cases.put(earlier)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(units=st.lists(st.tuples(st.sampled_from(STAGES), st.sampled_from(CACHE)), min_size=0, max_size=8),
       commune_cache=st.sampled_from(("cached", "cold")))
def test_one_query_per_commune_counts_as_the_per_unit_reads(
        store_url: str | None, catalogue: RuleCatalogue, units: list[tuple[str, str]], commune_cache: str) -> None:
    directory = StaticUnitDirectory()
    app = _app(store_url, catalogue, directory)
    commune = f"{next(COMMUNES):05d}"
    xa = profile(f"XA-{commune}", UnitType.XA_PHUONG, managed_by=Tier.TINH, commune=commune)
    members = [profile(f"KDC-{commune}-{i}", UnitType.KHU_DAN_CU, commune=commune) for i in range(len(units))]
    directory.add(xa, *members)
    for p, (stage, cache) in zip(members, units, strict=True):
        drive(app, p, stage, cache)
    drive(app, xa, "appraised", commune_cache)

    expected = per_unit_coverage(app, commune)
    assert app.commune_coverage(commune, YEAR) == expected
    # the commune's decision: recognised, or refused for the same reason, as the figures say
    xa_case = AssessmentCase.create_id(xa.unit_id, YEAR)
    met = expected.managed > 0 and expected.registered == expected.managed and \
        expected.recognised * 10 >= 7 * expected.managed
    try:
        decided = app.decide_many({xa_case: Outcome.DAT}, decision(tinh_authority()), ACTOR)
    except DomainError as refused:
        assert refused.reason == "COMMUNE_COVERAGE_NOT_MET" and not met
    else:
        assert decided[0].state is CaseState.CONG_NHAN and met


def test_latest_versions_are_the_last_stored_versions(store_url: str | None, catalogue: RuleCatalogue) -> None:
    directory = StaticUnitDirectory()
    app = _app(store_url, catalogue, directory)
    members = [profile(f"KDC-LV-{i}", UnitType.KHU_DAN_CU) for i in range(1201)]  # > 2 queries' worth
    directory.add(*members)
    for p, stage in zip(members[:30], itertools.cycle(STAGES)):
        drive(app, p, stage, "cold")
    ids = [AssessmentCase.create_id(p.unit_id, YEAR) for p in members]
    expected = {}
    for case_id in ids:
        last = app.recorder.select_events(case_id, desc=True, limit=1)
        if last:
            expected[case_id] = last[0].originator_version
    assert len(expected) == 25 and set(expected.values()) == {1, 2, 4, 5}  # "none" units store nothing
    assert app.latest_versions([*ids, *ids[:5]]) == expected
    assert app.latest_versions([]) == {}


def _app(store_url: str | None, catalogue: RuleCatalogue, directory: StaticUnitDirectory) -> Assessments:
    return Assessments(store_url, rules=catalogue, units=directory)

"""On SQLite and PostgreSQL: GetRollup served from the report cache equals a fresh computation after every
applied batch, whichever replica asks, and an event applied below the highest position is seen too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import ReceivedEvent
from antt.messaging.tracking import metadata as tracking_metadata
from antt.reporting.v1 import reporting_service_pb2 as pb
from services.reporting import projections, queries
from services.reporting.api import rollups
from services.reporting.api.servicer import ReportingServicer
from services.reporting.consumers import FROM_ASSESSMENT, FROM_REGISTRY
from services.reporting.replay import apply_events
from services.reporting.projections import version
from tests.unit.reporting.builders import World
from tests.unit.reporting.test_rollup_scoped import SCOPES, add_varied_lives
from tests.unit.reporting.test_rollups import Y, build

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(database_urls: dict[str, str]) -> Iterator[Engine]:
    engine = create_engine(database_urls["reporting"])
    tracking_metadata.create_all(engine)
    projections.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _world() -> World:
    world = World()
    build(world)
    add_varied_lives(world)
    return world


def _apply(engine: Engine, registry: list[ReceivedEvent], assessment: list[ReceivedEvent]) -> None:
    with engine.begin() as conn:
        apply_events(conn, FROM_REGISTRY, registry)
        apply_events(conn, FROM_ASSESSMENT, assessment)


def _fresh(engine: Engine, scope: str, page: int) -> pb.GetRollupResponse:
    """The reply computed from scratch, without any cache."""
    with engine.connect() as conn:
        report = queries.report(conn, Y, scope, today=date.today())
    return rollups.reply(rollups.prepare(report), page)


def _ask(servicer: ReportingServicer, scope: str, page: int) -> pb.GetRollupResponse:
    request = pb.GetRollupRequest(query=pb.ReportQuery(year=Y, scope=scope), award_page_size=page)
    return asyncio.run(servicer.GetRollup(request, None))  # type: ignore[arg-type]


def test_cached_replies_equal_a_fresh_computation_after_every_batch_on_every_replica(engine: Engine) -> None:
    world = _world()
    replicas = [ReportingServicer(engine), ReportingServicer(engine)]  # two processes on one database
    registry, assessment = world.registry.events, world.assessment.events
    batches = [(registry[:5], []), (registry[5:], []), *((registry, assessment[:n]) for n in (1, 4, 9)),
               (registry, assessment)]
    digests = set()
    for registry_part, assessment_part in batches:
        _apply(engine, registry_part, assessment_part)
        for scope in SCOPES:
            for page in (0, 2):
                expected = _fresh(engine, scope, page)
                for servicer in replicas:
                    assert _ask(servicer, scope, page) == expected, (scope, page)
        digests.add(_fresh(engine, "national", 0).rollup.digest)
    assert len(digests) == len(batches)  # every batch changed the national report: the cache followed each
    # unchanged read models: served from the cache, nothing computed again
    before = [s.reports.computed for s in replicas]
    for scope in SCOPES:
        _ask(replicas[0], scope, 0)
        _ask(replicas[1], scope, 2)
    assert [s.reports.computed for s in replicas] == before


def test_an_event_applied_below_the_highest_position_is_seen(engine: Engine) -> None:
    world = _world()
    servicer = ReportingServicer(engine)
    late = next(e for e in world.assessment.events if e.event_type.endswith("CaseDecided"))
    others = [e for e in world.assessment.events if e is not late]
    _apply(engine, world.registry.events, others)
    scope = "national"
    stale = _ask(servicer, scope, 0)
    assert stale == _fresh(engine, scope, 0)
    # redelivered after a failure: applied after events of higher positions
    _apply(engine, [], [late])
    assert _fresh(engine, scope, 0).rollup.digest != stale.rollup.digest
    assert _ask(servicer, scope, 0) == _fresh(engine, scope, 0)  # on PostgreSQL too: the counter moved


def test_a_removed_version_row_comes_back_and_still_moves(engine: Engine) -> None:
    world = _world()
    servicer = ReportingServicer(engine)
    _apply(engine, world.registry.events, world.assessment.events[:3])
    first = _ask(servicer, "national", 0)
    with engine.begin() as conn:
        conn.execute(version.data_version.delete())
    _apply(engine, [], world.assessment.events[3:])
    with engine.connect() as conn:
        assert version.current(conn) > 0  # 0 when the row is missing
    assert _ask(servicer, "national", 0) == _fresh(engine, "national", 0) != first

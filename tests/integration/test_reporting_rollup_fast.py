"""On SQLite and PostgreSQL: rollups counted in SQL and read by scope equal rollups folded over every unit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from antt.eventstore.persistence import create_engine
from antt.messaging.tracking import metadata as tracking_metadata
from services.reporting import projections, queries
from services.reporting.consumers import FROM_ASSESSMENT, FROM_REGISTRY
from services.reporting.replay import apply_events
from services.reporting.rollup.snapshot import load
from tests.unit.reporting.builders import World
from tests.unit.reporting.test_rollup_scoped import SCOPES, TODAY, add_varied_lives
from tests.unit.reporting.test_rollups import Y, build

pytestmark = pytest.mark.integration


@pytest.fixture
def store(database_urls: dict[str, str]) -> Iterator[Engine]:
    engine = create_engine(database_urls["reporting"])
    tracking_metadata.create_all(engine)
    projections.metadata.create_all(engine)
    world = World()
    build(world)
    add_varied_lives(world)
    with engine.begin() as conn:
        apply_events(conn, FROM_REGISTRY, world.registry.events)
        apply_events(conn, FROM_ASSESSMENT, world.assessment.events)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("boundary", ["then", "today"])
def test_fast_rollups_equal_the_fold_of_every_unit(store: Engine, boundary: str) -> None:
    with store.connect() as conn:
        everything = load(conn)
        for year in (Y - 1, Y, Y + 1):
            for scope in SCOPES:
                fast = queries.report(conn, year, scope, boundary, today=TODAY)
                full = queries.report_from_snapshot(everything, year, scope, boundary, today=TODAY)
                assert fast.canonical() == full.canonical(), (scope, boundary, year)
        assert queries.report(conn, Y, "national", boundary, today=TODAY).area.total.in_scope == 14

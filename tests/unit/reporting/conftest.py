"""Fixtures of reporting's unit tests: a SQLite store with the read models, fed through the consumer specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.eventstore.persistence import create_engine
from antt.messaging.tracking import metadata as tracking_metadata
from services.reporting import projections
from services.reporting.consumers import FROM_ASSESSMENT, FROM_REGISTRY
from services.reporting.replay import apply_events
from tests.unit.reporting.builders import World


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """An empty reporting store (SQLite file)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    tracking_metadata.create_all(engine)
    projections.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def feed(store: Engine) -> Callable[[World], None]:
    """Apply a world's events (registry, then assessment) through the consumers' projections."""
    def apply(world: World) -> None:
        with store.begin() as conn:
            apply_events(conn, FROM_REGISTRY, world.registry.events)
            apply_events(conn, FROM_ASSESSMENT, world.assessment.events)
    return apply


def rows(engine: Engine, table: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
    """Every row of a table."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table)))

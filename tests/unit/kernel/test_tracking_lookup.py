"""A consumer's duplicate check (`applied_positions`): the right answer for any stored tracking rows and any batch
(several consumers and sources side by side), on SQLite and PostgreSQL; and on SQLite a cost that does not grow
with the consumer's tracking rows (the check once read every row of the consumer, since the source was unbound)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import applied_positions, insert_tracking
from antt.messaging.tracking import metadata as tracking_metadata
from antt.messaging.tracking import tracking
from antt.testing import postgres
from tests.conftest import postgres_server_url

pytestmark = pytest.mark.unit

CONSUMERS = ("reporting-from-registry", "reporting-from-assessment")
SOURCES = ("registry", "assessment")
keys = st.tuples(st.sampled_from(SOURCES), st.integers(1, 60))
stored_rows = st.sets(st.tuples(st.sampled_from(CONSUMERS), st.sampled_from(SOURCES), st.integers(1, 60)),
                      max_size=80)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        made = create_engine(f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'tracking.db'}")
        tracking_metadata.create_all(made)
        yield made
        made.dispose()
        return
    with postgres.temporary_databases(postgres_server_url(), 1) as (url,):
        made = create_engine(url)
        tracking_metadata.create_all(made)
        yield made
        made.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=stored_rows, batch=st.lists(keys, min_size=1, max_size=30))
def test_applied_positions_are_the_stored_pairs_of_this_consumer(engine: sa.Engine, stored: set[tuple[str, str, int]],
                                                                 batch: list[tuple[str, int]]) -> None:
    with engine.begin() as conn:
        conn.execute(tracking.delete())
        insert_tracking(conn, sorted(stored))
        for consumer in CONSUMERS:
            expected = {(s, p) for s, p in batch if (consumer, s, p) in stored}
            assert applied_positions(conn, consumer, batch) == expected


def _vm_steps(conn: sa.Connection, consumer: str, batch: list[tuple[str, int]]) -> tuple[int, set[tuple[str, int]]]:
    """SQLite virtual-machine steps of one duplicate check (counted by a progress handler: not a timing)."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    raw = conn.connection.driver_connection
    raw.set_progress_handler(count, 1)  # type: ignore[union-attr]
    try:
        found = applied_positions(conn, consumer, batch)
    finally:
        raw.set_progress_handler(None, 1)  # type: ignore[union-attr]
    return steps[0], found


def test_sqlite_check_reads_the_batch_range_not_the_consumer_history(tmp_path: pytest.TempPathFactory) -> None:
    made = create_engine(f"sqlite:///{tmp_path}/steps.db")  # type: ignore[operator]
    tracking_metadata.create_all(made)
    consumer, batch = CONSUMERS[0], [("registry", p) for p in range(1_000_001, 1_000_101)]
    counted = []
    try:
        for history in (1_000, 40_000):
            with made.begin() as conn:
                conn.execute(tracking.delete())
                # the consumer's older positions from its own source, the other source's on both sides of the batch
                insert_tracking(conn, [(consumer, "registry", p) for p in range(1, history + 1)]
                                + [(consumer, "assessment", p) for p in range(1, 2_000_000, 2_000_000 // history)]
                                + [(consumer, "registry", p) for p in range(1_000_001, 1_000_051)])
                steps, found = _vm_steps(conn, consumer, batch)
            assert found == {("registry", p) for p in range(1_000_001, 1_000_051)}
            counted.append(steps)
    finally:
        made.dispose()
    # 40x the history: the range scan costs about the same (reading every row of the consumer cost ~40x)
    assert counted[1] < 2 * counted[0], counted

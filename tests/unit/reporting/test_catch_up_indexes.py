"""Reporting's registry consumer sets the unit read models' secondary indexes aside while far behind its stream:
the read models equal the per-event projections' whatever the lag of each batch, queries read the same rows
meanwhile, the indexes come back once nearly caught up, and a store left without them gets them at start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import ConsumerOptions, Outcome, ProjectionConsumer, ReceivedEvent
from antt.messaging.raw import RawMessage
from antt.messaging.tracking import metadata as tracking_metadata
from antt.testing import postgres
from services.reporting import projections, replay
from services.reporting.consumers import FROM_REGISTRY
from services.reporting.projections import catch_up
from tests.conftest import postgres_server_url
from tests.unit.reporting.test_rebuild_projections import _raw
from tests.unit.test_batch_projections import build, snapshot, steps

pytestmark = pytest.mark.unit

LIMIT = 20  # ANTT_REPORTING_DEFER_INDEXES in these tests: aside from 20 pending, back below 2


def _pending(msg: RawMessage, pending: int) -> RawMessage:
    """The delivery with `pending` messages said to be left after it (the last token of its ack subject)."""
    return RawMessage(msg.subject, b"$JS.ACK.s.c.1.1.1.0." + str(pending).encode(), msg.data, msg.headers)


def _reference(events: list[ReceivedEvent]) -> sa.Engine:
    one = sa.create_engine("sqlite://")
    projections.metadata.create_all(one)
    with one.begin() as conn:
        for event in events:
            FROM_REGISTRY.projection(conn, event)
    return one


def _fresh(engine: sa.Engine) -> None:
    projections.metadata.drop_all(engine)
    tracking_metadata.drop_all(engine)
    projections.prepare(engine)


def _apply(engine: sa.Engine, events: list[ReceivedEvent], cuts: list[int],
           lags: list[int]) -> list[tuple[int, set[str]]]:
    """Apply the events through the consumer in batches cut at `cuts`, the i-th batch leaving lags[i] pending;
    (lag, deferred indexes present) after each batch."""
    consumer = ProjectionConsumer(FROM_REGISTRY, engine, None, ConsumerOptions())  # type: ignore[arg-type]
    bounds = sorted({c % (len(events) + 1) for c in cuts} | {0, len(events)})
    after = []
    for i, (start, end) in enumerate(zip(bounds, bounds[1:])):
        lag = lags[i % len(lags)] if lags else 0
        msgs = [_pending(_raw(e), lag) for e in events[start:end]]
        assert {o for o, _ in consumer._apply_batch(msgs)} == {Outcome.APPLIED}
        with engine.connect() as conn:
            after.append((lag, catch_up.present(conn)))
    return after


lags = st.lists(st.sampled_from([0, 1, LIMIT // 10, LIMIT - 1, LIMIT, 10 * LIMIT]), max_size=6)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ALL = {ix.name for ix in catch_up.DEFERRED}


def _check(engine: sa.Engine, plan: list, cuts: list[int], lag_plan: list[int]) -> None:
    _fresh(engine)
    events = build(plan, reregister=False)
    if not events:
        return
    for lag, present in _apply(engine, events, cuts, lag_plan):
        if lag >= LIMIT:
            assert present == set()
        elif lag < LIMIT // 10:
            assert present == ALL
    assert snapshot(engine, projections.metadata) == snapshot(_reference(events), projections.metadata)


@SETTINGS
@given(plan=steps, cuts=st.lists(st.integers(0, 40), max_size=5), lag_plan=lags)
def test_batches_with_indexes_aside_equal_the_events_one_by_one_on_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan: list, cuts: list[int], lag_plan: list[int]) -> None:
    monkeypatch.setenv(catch_up.SETTING, str(LIMIT))
    engine = replay.scratch_engine()
    try:
        _check(engine, plan, cuts, lag_plan)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    with postgres.temporary_databases(postgres_server_url(), 1) as (url,):
        engine = create_engine(url)
        yield engine
        engine.dispose()


@pytest.mark.postgres
@settings(SETTINGS, max_examples=20)
@given(plan=steps, cuts=st.lists(st.integers(0, 40), max_size=5), lag_plan=lags)
def test_batches_with_indexes_aside_equal_the_events_one_by_one_on_postgresql(
        pg_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, plan: list, cuts: list[int],
        lag_plan: list[int]) -> None:
    monkeypatch.setenv(catch_up.SETTING, str(LIMIT))
    _check(pg_engine, plan, cuts, lag_plan)


def test_queries_during_catch_up_read_what_they_read_with_the_indexes(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catch_up.SETTING, str(LIMIT))
    plan = [("registered", u, u % 3, True) for u in range(4)] + [("moved", 1, 2, True), ("facts", 2, 0, False)]
    events = build(plan, reregister=False)
    behind = create_engine(f"sqlite:///{tmp_path / 'behind.db'}")
    _fresh(behind)
    assert _apply(behind, events, [], [10 * LIMIT]) == [(10 * LIMIT, set())]
    reference = _reference(events)
    history = projections.unit_history.unit_history
    lives = projections.lives.unit_lives
    for query in (sa.select(history).where(history.c.province_code == "01").order_by(history.c.unit_id,
                                                                                      history.c.version),
                  sa.select(lives).where(lives.c.commune_code == "00004", lives.c.simple).order_by(lives.c.unit_id),
                  sa.select(projections.units).where(projections.units.c.province_code == "79")):
        with behind.connect() as a, reference.connect() as b:
            assert list(a.execute(query)) == list(b.execute(query)) != []
    behind.dispose()


def test_a_store_stopped_with_its_indexes_aside_gets_them_back_at_start(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catch_up.SETTING, str(LIMIT))
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    engine = create_engine(url)
    _fresh(engine)
    _apply(engine, build([("registered", 0, 0, True)], reregister=False), [], [10 * LIMIT])
    with engine.connect() as conn:
        assert catch_up.present(conn) == set()
    before = replay.checksum(engine)
    engine.dispose()
    again = create_engine(url)  # the process starts again
    projections.prepare(again)
    with again.connect() as conn:
        assert catch_up.present(conn) == ALL
    assert replay.checksum(again) == before
    again.dispose()


def test_zero_never_sets_the_indexes_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catch_up.SETTING, "0")
    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    _fresh(engine)
    assert _apply(engine, build([("registered", 0, 0, True)], reregister=False), [], [10 ** 9]) == [(10 ** 9, ALL)]
    engine.dispose()

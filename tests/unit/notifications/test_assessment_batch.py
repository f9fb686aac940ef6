"""Notifications' batch projection of assessment events stores the satisfied facts its per-event projection
stores, on SQLite and PostgreSQL: random event sequences with facts repeated within a batch, facts already
stored, events that satisfy nothing, random batch cuts, and batches redelivered to the consumer (applied once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.events.v1 import assessment_pb2 as apb
from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import ConsumerOptions, Outcome, ProjectionConsumer, ReceivedEvent
from antt.messaging.tracking import metadata as tracking_metadata
from antt.messaging.tracking import tracking
from antt.testing import postgres
from services.notifications import projections
from services.notifications.consumers import FROM_ASSESSMENT
from tests.conftest import postgres_server_url
from tests.unit.reporting.builders import Stream, meta
from tests.unit.reporting.test_rebuild_projections import _raw

pytestmark = pytest.mark.unit

UNITS = ["", "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000a2",
         "00000000-0000-0000-0000-0000000000a3"]  # "": an event without a unit satisfies nothing
YEARS = [0, 2025, 2026]  # 0: without a year, nothing either
PAYLOADS = [apb.CaseRegistered, apb.SelfAssessmentRecorded, apb.CaseSubmitted, apb.CaseAppraised, apb.CaseDecided,
            apb.ClassificationDecided, apb.CaseClosed, apb.Reclassified]  # submitted, appraised, reclassified: none
# (payload index, unit index, year index); units and years mostly set, so facts repeat often
plans = st.lists(st.tuples(st.integers(0, len(PAYLOADS) - 1), st.sampled_from([1, 1, 2, 2, 3, 0]),
                           st.sampled_from([1, 2, 1, 0])), max_size=60)
cut_lists = st.lists(st.integers(0, 60), max_size=6)


def build(plan: list[tuple[int, int, int]]) -> list[ReceivedEvent]:
    """Assessment events of the plan, as notifications receives them."""
    stream = Stream("assessment")
    for p, u, y in plan:
        stream.add(PAYLOADS[p](meta=meta(aggregate=f"case-{u}-{y}"), unit_id=UNITS[u], year=YEARS[y]),
                   "01", "00004")
    return stream.events


def batches(events: list[ReceivedEvent], cuts: list[int]) -> list[list[ReceivedEvent]]:
    """The events cut into consecutive non-empty batches at `cuts`."""
    bounds = [0, *sorted({c % (len(events) + 1) for c in cuts}), len(events)]
    return [events[a:b] for a, b in zip(bounds, bounds[1:]) if a < b]


def facts(engine: sa.Engine) -> list[tuple[object, ...]]:
    """Every stored fact, sorted."""
    s = projections.satisfied
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(s).order_by(s.c.unit_id, s.c.year, s.c.kind))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engines(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """A reference store (per-event path) and a store for the batch path, on SQLite files or PostgreSQL."""
    if request.param == "sqlite":
        pair = [create_engine(f"sqlite:///{tmp_path / n}.db") for n in ("one", "many")]
        yield _ready(pair)
        return
    with postgres.temporary_databases(postgres_server_url(), 2) as urls:
        pair = [create_engine(u) for u in urls]
        yield _ready(pair)


def _ready(pair: list[sa.Engine]) -> tuple[sa.Engine, sa.Engine]:
    for engine in pair:
        projections.metadata.create_all(engine)
        tracking_metadata.create_all(engine)
    return pair[0], pair[1]


def _empty(*stores: sa.Engine) -> None:
    """The stores are shared by a test's examples: each example starts from empty tables."""
    for engine in stores:
        with engine.begin() as conn:
            conn.execute(projections.satisfied.delete())
            conn.execute(tracking.delete())


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(stored=plans, plan=plans, cuts=cut_lists, again=st.lists(st.integers(0, 10), max_size=3))
def test_batches_store_the_facts_of_the_per_event_projection(engines: tuple[sa.Engine, sa.Engine],
                                                             stored: list[tuple[int, int, int]],
                                                             plan: list[tuple[int, int, int]], cuts: list[int],
                                                             again: list[int]) -> None:
    one, many = engines
    _empty(one, many)
    earlier, events = build(stored), build(plan)
    for engine in (one, many):  # facts stored before (by the per-event path) that the events may repeat
        with engine.begin() as conn:
            for event in earlier:
                projections.on_assessment_event(conn, event)
    with one.begin() as conn:
        for event in events:
            projections.on_assessment_event(conn, event)
    cut = batches(events, cuts)
    for batch in cut:
        with many.begin() as conn:
            projections.on_assessment_events(conn, batch)
    for i in again:  # a batch applied again (idempotent even without the consumer's tracking)
        if cut:
            with many.begin() as conn:
                projections.on_assessment_events(conn, cut[i % len(cut)])
    assert facts(many) == facts(one)


@SETTINGS
@given(plan=plans, cuts=cut_lists)
def test_the_consumer_applies_redelivered_batches_once_through_the_batch_path(
        engines: tuple[sa.Engine, sa.Engine], plan: list[tuple[int, int, int]], cuts: list[int]) -> None:
    one, many = engines
    _empty(one, many)
    events = build(plan)
    with one.begin() as conn:
        for event in events:
            FROM_ASSESSMENT.projection(conn, event)
    consumer = ProjectionConsumer(FROM_ASSESSMENT, many, None, ConsumerOptions())  # type: ignore[arg-type]

    def no_fallback(msgs: object) -> None:  # a failing batch projection would hide behind the per-event fallback
        raise AssertionError("the batch fell back to message-by-message")

    consumer._apply_one_by_one = no_fallback  # type: ignore[method-assign]
    msgs = [_raw(e) for e in events]
    start, ahead = 0, 0  # ahead: messages of the next batch applied already (redelivered with the previous one)
    for batch in batches(msgs, cuts):
        end = start + len(batch)
        outcomes = [o for o, _ in consumer._apply_batch(batch)]
        assert outcomes == [Outcome.DUPLICATE] * ahead + [Outcome.APPLIED] * (len(batch) - ahead)
        before = facts(many)
        assert [o for o, _ in consumer._apply_batch(batch)] == [Outcome.DUPLICATE] * len(batch)  # its ack was lost
        assert facts(many) == before
        ahead = 0
        if end < len(msgs):  # redelivered with the next message, which is applied
            outcomes = [o for o, _ in consumer._apply_batch(msgs[start:end + 1])]
            assert outcomes == [Outcome.DUPLICATE] * len(batch) + [Outcome.APPLIED]
            ahead = 1
        start = end
    assert facts(many) == facts(one)
    with many.connect() as conn:
        applied = conn.execute(sa.select(sa.func.count()).select_from(tracking)).scalar()
    assert applied == len(events)

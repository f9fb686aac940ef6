"""Rebuild fast paths of reporting's projections: the batch projections (plain driver statements, area events in
batches) give the read models of the per-event projections, on SQLite and PostgreSQL, and the consumer applies a
redelivered batch once."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.contracts import envelope
from antt.eventstore.persistence import create_engine
from antt.events.v1 import registry_pb2 as rpb
from antt.messaging.consumer import ConsumerOptions, Outcome, ProjectionConsumer, ReceivedEvent
from antt.messaging.raw import RawMessage
from antt.messaging.tracking import metadata as tracking_metadata
from antt.testing import postgres
from services.reporting import projections, replay
from services.reporting.consumers import FROM_ASSESSMENT, FROM_REGISTRY
from tests.conftest import postgres_server_url
from tests.unit.reporting.builders import Stream, World, meta
from tests.unit.reporting.test_rollups import build as build_world
from tests.unit.test_batch_projections import build, build_cases, case_steps, snapshot, steps

pytestmark = pytest.mark.unit

CODES = ["00004", "00007", "26734", "26737"]
AREA_KINDS = ("created", "renamed", "reparented", "abolished", "merged", "split", "split_continues", "absorbed")
# (kind, area index, other area index, flag)
area_steps = st.lists(st.tuples(st.sampled_from(AREA_KINDS), st.integers(0, len(CODES) - 1),
                                st.integers(0, len(CODES) - 1), st.booleans()), max_size=30)


def build_areas(plan: list[tuple[str, int, int, bool]]) -> list[ReceivedEvent]:
    """Area events of the plan, in any order (an area may end or be renamed before it is created), each area
    created at most once and each (area, version) once, as the registry's aggregates publish them."""
    stream, created, versions = Stream("registry"), set[str](), dict[str, int]()
    for n, (kind, a, b, flag) in enumerate(plan):
        code, other = CODES[a], CODES[b]
        if kind == "created":
            if code in created:
                continue
            created.add(code)
        # AreaCreated is version 1 of its area; a change may come before it (a stream cut mid-history)
        version = 1 if kind == "created" else versions.setdefault(code, 1) + 1
        if kind != "created":
            versions[code] = version
        m = meta(version=version, aggregate=code)
        # a state may be undated (from before the records); a succession is always dated
        undated = n % 4 == 0 and kind in ("created", "renamed", "reparented")
        m.effective_date = "" if undated else f"2025-0{1 + n % 9}-1{n % 10}"
        head = dict(meta=m, level="commune", code=code)
        if kind == "created":
            payload: object = rpb.AreaCreated(**head, name=f"Xã {n}", parent_level="province",
                                              parent_code="01" if flag else "79")
        elif kind == "renamed":
            payload = rpb.AreaRenamed(**head, name=f"Xã mới {n}")
        elif kind == "reparented":
            payload = rpb.AreaReparented(**head, parent_level="province", parent_code="31" if flag else "01")
        elif kind == "abolished":
            payload = rpb.AreaAbolished(**head)
        elif kind == "merged":
            payload = rpb.AreaMergedInto(**head, target_code=other)
        elif kind in ("split", "split_continues"):
            payload = rpb.AreaSplitUp(**head, target_codes=sorted({other, CODES[(b + 1) % len(CODES)]} - {code}),
                                      continues=kind == "split_continues")
        else:
            payload = rpb.AreaAbsorbed(**head, source_codes=[other])
        stream.add(payload, "01", code)  # type: ignore[arg-type]
    # a succession names each (area, target) once: drop repeats, which fail per event and in a batch alike
    seen: set[tuple[str, str]] = set()
    out = []
    for event in stream.events:
        p = event.payload
        targets = ([p.target_code] if isinstance(p, rpb.AreaMergedInto)
                   else list(p.target_codes) if isinstance(p, rpb.AreaSplitUp) else [])
        if any((p.code, t) in seen for t in targets):
            continue
        seen.update((p.code, t) for t in targets)
        out.append(event)
    return out


def per_event_and_batched(engine_one: sa.Engine, engine_many: sa.Engine, spec: object, events: list[ReceivedEvent],
                          cuts: list[int]) -> tuple[dict[str, list[tuple[object, ...]]], ...]:
    """Read models after the events one by one, and in batches cut at `cuts` (the stores start empty)."""
    with engine_one.begin() as conn:
        for event in events:
            spec.projection(conn, event)  # type: ignore[attr-defined]
    bounds = [0, *sorted({c % (len(events) + 1) for c in cuts}), len(events)]
    for start, end in zip(bounds, bounds[1:]):
        if start < end:
            with engine_many.begin() as conn:
                spec.batch_projection(conn, events[start:end])  # type: ignore[attr-defined]
    return snapshot(engine_one, projections.metadata), snapshot(engine_many, projections.metadata)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(plan=area_steps, cuts=st.lists(st.integers(0, 30), max_size=5))
def test_area_batches_equal_the_area_events_one_by_one(plan: list[tuple[str, int, int, bool]],
                                                         cuts: list[int]) -> None:
    one, many = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
    for engine in (one, many):
        projections.metadata.create_all(engine)
    a, b = per_event_and_batched(one, many, FROM_REGISTRY, build_areas(plan), cuts)
    assert a == b


def test_a_second_creation_of_an_area_fails_in_a_batch_as_one_by_one() -> None:
    """The consumer then applies the batch message by message, and only the second creation fails."""
    stream = Stream("registry")
    for name in ("Xã A", "Xã B"):
        stream.add(rpb.AreaCreated(meta=meta(), level="commune", code="00004", name=name, parent_level="province",
                                   parent_code="01"), "01", "00004")
    engine = sa.create_engine("sqlite://")
    projections.metadata.create_all(engine)
    assert FROM_REGISTRY.batch_projection is not None
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        FROM_REGISTRY.batch_projection(conn, stream.events)
    with engine.begin() as conn:
        FROM_REGISTRY.projection(conn, stream.events[0])
        with pytest.raises(sa.exc.IntegrityError):
            FROM_REGISTRY.projection(conn, stream.events[1])


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """Two empty PostgreSQL databases with reporting's read models (emptied again by each example)."""
    with postgres.temporary_databases(postgres_server_url(), 2) as urls:
        engines = tuple(create_engine(url) for url in urls)
        for engine in engines:
            projections.metadata.create_all(engine)
        yield engines  # type: ignore[misc]
        for engine in engines:
            engine.dispose()


def _emptied(*engines: sa.Engine) -> None:
    for engine in engines:
        with engine.begin() as conn:
            for table in projections.metadata.sorted_tables:
                conn.execute(table.delete())


PG_SETTINGS = settings(max_examples=25, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.postgres
@PG_SETTINGS
@given(units=steps, areas=area_steps, cases=case_steps, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_batches_equal_one_by_one_on_postgresql(pg_pair: tuple[sa.Engine, sa.Engine], units: list, areas: list,
                                                cases: list, cuts: list[int]) -> None:
    one, many = pg_pair
    _emptied(one, many)
    registry = build(units, reregister=False) + build_areas(areas)  # positions unused: no tracking here
    a, b = per_event_and_batched(one, many, FROM_REGISTRY, registry, cuts)
    assert a == b
    a, b = per_event_and_batched(one, many, FROM_ASSESSMENT, build_cases(cases), cuts)
    assert a == b


def _raw(event: ReceivedEvent) -> RawMessage:
    """The message JetStream delivers for an event (payload and CloudEvents headers as the relay sends them)."""
    headers = envelope.header_block(event.envelope, "", "stream")
    return RawMessage(str(event.subject).encode(), b"$JS.ACK.s.c.1.1.1.0.0", event.payload.SerializeToString(),
                      headers)


def _stores(tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    """A reporting store on SQLite, then one on PostgreSQL."""
    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    yield "sqlite", engine
    engine.dispose()
    with postgres.temporary_databases(postgres_server_url()) as (url,):
        engine = create_engine(url)
        yield "postgres", engine
        engine.dispose()


@pytest.mark.postgres
def test_the_consumer_applies_a_redelivered_batch_once_and_equals_the_live_store(tmp_path: Path) -> None:
    world = World()
    build_world(world)
    live = create_engine(f"sqlite:///{tmp_path / 'live.db'}")
    tracking_metadata.create_all(live)
    projections.metadata.create_all(live)
    with live.begin() as conn:  # the per-event path, as the SAVEPOINT fallback and the test fixtures apply it
        replay.apply_events(conn, FROM_REGISTRY, world.registry.events)
        replay.apply_events(conn, FROM_ASSESSMENT, world.assessment.events)
    rnd = random.Random(8)
    for _, engine in _stores(tmp_path):
        projections.prepare(engine)
        for spec, events in ((FROM_REGISTRY, world.registry.events), (FROM_ASSESSMENT, world.assessment.events)):
            consumer = ProjectionConsumer(spec, engine, None, ConsumerOptions())  # type: ignore[arg-type]
            msgs = [_raw(e) for e in events]
            start = 0
            while start < len(msgs):
                end = min(len(msgs), start + rnd.randint(1, 40))
                assert {o for o, _ in consumer._apply_batch(msgs[start:end])} == {Outcome.APPLIED}
                before = replay.checksum(engine)
                # the whole batch again (its ack was lost), then it with the next messages: no double count
                assert {o for o, _ in consumer._apply_batch(msgs[start:end])} == {Outcome.DUPLICATE}
                assert replay.checksum(engine) == before
                again = consumer._apply_batch(msgs[start:min(len(msgs), end + 3)])
                assert [o for o, _ in again][:end - start] == [Outcome.DUPLICATE] * (end - start)
                start = min(len(msgs), end + 3)
        assert replay.checksum(engine) == replay.checksum(live)

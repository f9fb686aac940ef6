"""Replay stores: "as recorded up to T" keeps the events recorded by T; a full rebuild equals the live store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.errors import InvalidArgumentError
from antt.messaging.tracking import tracking
from services.reporting import queries, replay
from services.reporting.consumers import CONSUMERS
from tests.unit.reporting.builders import RECORDED, World
from tests.unit.reporting.test_rollups import HN, Y, build

pytestmark = pytest.mark.unit

DAY_D = "2026-11-20T09:00:00+07:00"


def digest(engine: Engine, scope: str = "national") -> str:
    with engine.connect() as conn:
        return queries.report(conn, Y, scope).digest()


def test_as_recorded_before_a_reclassification_reproduces_the_earlier_digest(
        store: Engine, feed: Callable[[World], None]) -> None:
    world = World()
    build(world)
    feed(world)
    earlier = digest(store)
    world.reclassify("a1", Y, (HN, "00004"), "trung_binh", "xuat_sac", date(Y, 12, 10), recorded=DAY_D)
    streams = {"registry": world.registry.events, "assessment": world.assessment.events}
    before = replay.build_store(streams, replay.parse_as_of("2026-11-19T09:00:00+07:00"))
    after = replay.build_store(streams)
    try:
        assert digest(before) == earlier
        assert digest(after) != earlier
        feed(world)  # the live store applies the new event (the others are already tracked)
        assert digest(after) == digest(store)
        assert replay.checksum(after) == replay.checksum(store)
    finally:
        replay.discard(before)
        replay.discard(after)


def test_times_must_carry_an_offset() -> None:
    assert replay.parse_as_of("") is None
    assert replay.parse_as_of(RECORDED) is not None
    for bad in ("2026-11-15", "yesterday", "2026-11-15T00:00:00"):
        with pytest.raises(InvalidArgumentError) as err:
            replay.parse_as_of(bad)
        assert err.value.field == "as_of"


def test_a_scoped_store_without_tracking_rows_holds_the_same_read_models() -> None:
    world = World()
    build(world)
    streams = {"registry": world.registry.events, "assessment": world.assessment.events}
    tracked, untracked = replay.build_store({}, memory=True), replay.build_store({}, memory=True)
    try:
        for spec in CONSUMERS:
            events = streams[spec.source] + streams[spec.source][:3]  # a redelivery: skipped by position either way
            assert replay._apply_chunk(tracked, spec, events, set()) == len(streams[spec.source])
            assert replay._apply_chunk(untracked, spec, events, set(), track=False) == len(streams[spec.source])
        assert replay.checksum(untracked) == replay.checksum(tracked)
        assert digest(untracked, f"province:{HN}") == digest(tracked, f"province:{HN}")
        count = sa.select(sa.func.count()).select_from(tracking)
        with tracked.connect() as a, untracked.connect() as b:
            assert a.execute(count).scalar() == sum(map(len, streams.values()))
            assert b.execute(count).scalar() == 0
    finally:
        replay.discard(tracked)
        replay.discard(untracked)


def test_indexes_built_after_the_load_give_the_same_read_models_and_report() -> None:
    world = World()
    build(world)
    streams = {"registry": world.registry.events, "assessment": world.assessment.events}
    plain, deferred = replay.build_store({}, memory=True), replay.build_store({}, memory=True)
    try:
        with replay.indexes_deferred(deferred):
            assert not sa.inspect(deferred).get_indexes("reporting_unit_lives")  # really loaded without them
            for spec in CONSUMERS:
                replay._apply_chunk(deferred, spec, streams[spec.source], set(), track=False)
        for spec in CONSUMERS:
            replay._apply_chunk(plain, spec, streams[spec.source], set(), track=False)
        assert replay.checksum(deferred) == replay.checksum(plain)
        for scope in ("national", f"province:{HN}", "commune:00004"):
            assert digest(deferred, scope) == digest(plain, scope)
        tables = ("reporting_unit_lives", "reporting_unit_history", "reporting_units")
        assert sa.inspect(plain).get_indexes("reporting_unit_lives")
        assert {t: sa.inspect(deferred).get_indexes(t) for t in tables} == {t: sa.inspect(plain).get_indexes(t)
                                                                            for t in tables}
    finally:
        replay.discard(plain)
        replay.discard(deferred)

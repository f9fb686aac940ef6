"""Replay stores: "as recorded up to T" keeps the events recorded by T; a full rebuild equals the live store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from antt.errors import InvalidArgumentError
from services.reporting import queries, replay
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

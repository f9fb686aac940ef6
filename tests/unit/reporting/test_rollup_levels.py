"""Levels outside the known four are counted in SQL as the fold counts them, and skipped only when absent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from services.reporting import queries
from services.reporting.rollup.snapshot import load
from tests.unit.reporting.builders import World
from tests.unit.reporting.test_rollup_scoped import SCOPES, TODAY
from tests.unit.reporting.test_rollups import HN, HP, Y, build

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("odd_levels", [0, 1, 3])
def test_sql_counts_of_unknown_levels_equal_the_fold(store: Engine, feed: Callable[[World], None],
                                                     odd_levels: int) -> None:
    world = World()
    build(world)
    for i in range(odd_levels):  # simple lives classified at a level no rule knows (yet)
        uid, where = f"odd{i}", (HN, "00004") if i % 2 == 0 else (HP, "11560")
        world.unit(uid, "khu_dan_cu", *where, date(2020, 1, 1))
        world.register(uid, Y, where, date(Y, 1, 20))
        world.decide(uid, Y, where, True, date(Y, 11, 14))
        world.classify(uid, Y, where, "dac_biet" if i < 2 else "moi", date(Y, 11, 25))
    feed(world)
    with store.connect() as conn:
        everything = load(conn)
        for scope in SCOPES:
            fast = queries.report(conn, Y, scope, today=TODAY)
            full = queries.report_from_snapshot(everything, Y, scope, today=TODAY)
            assert fast.canonical() == full.canonical(), scope
        national = queries.report(conn, Y, "national", today=TODAY).area.total
        assert national.levels.get("dac_biet", 0) == min(odd_levels, 2)
        assert national.levels.get("moi", 0) == max(odd_levels - 2, 0)

"""A past year in the boundaries in force then, or re-aggregated into today's areas through the crosswalk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from antt.events.v1 import registry_pb2 as rpb
from services.reporting import queries
from tests.unit.reporting.builders import World, meta

pytestmark = pytest.mark.unit

REFORM = date(2025, 7, 1)


def reorganised_world() -> World:
    """Province 30 merged into 31 and commune 10001 (of 30) merged into 11560 (of 31) on 01/7/2025."""
    w = World()
    w.area("national", "VN", "Việt Nam")
    for code, name in (("30", "Tỉnh Cũ"), ("31", "Thành phố Hải Phòng")):
        w.area("province", code, name, "national", "VN")
    w.area("commune", "10001", "Xã Cũ", "province", "30")
    w.area("commune", "10002", "Xã Giữ Nguyên", "province", "30")
    w.area("commune", "11560", "Phường Mới", "province", "31")
    w.merge("commune", "10001", "11560", REFORM)
    w.merge("province", "30", "31", REFORM)
    w.registry.add(rpb.AreaReparented(meta=meta(REFORM, version=3), level="commune", code="10002",
                                      parent_level="province", parent_code="31"), "31", "10002")
    w.unit("u1", "khu_dan_cu", "30", "10001", date(2020, 1, 1))
    w.unit("u2", "khu_dan_cu", "30", "10002", date(2020, 1, 1))
    w.unit("u3", "khu_dan_cu", "31", "11560", date(2020, 1, 1))
    for uid, where in (("u1", ("30", "10001")), ("u2", ("30", "10002")), ("u3", ("31", "11560"))):
        w.register(uid, 2024, where, date(2024, 1, 10))
        w.decide(uid, 2024, where, uid != "u2", date(2024, 11, 10))
    return w


def test_a_past_year_in_the_boundaries_then_and_in_todays(store: Engine, feed: Callable[[World], None]) -> None:
    feed(reorganised_world())
    with store.connect() as conn:
        then = queries.report(conn, 2024, "national", "then", today=date(2026, 1, 1))
        today = queries.report(conn, 2024, "national", "today", today=date(2026, 1, 1))
        then_30 = queries.report(conn, 2024, "province:30", "then", today=date(2026, 1, 1))
        today_31 = queries.report(conn, 2024, "province:31", "today", today=date(2026, 1, 1))
    assert {s.code: s.total.in_scope for s in then.sub_areas} == {"30": 2, "31": 1}
    assert {s.code: s.total.in_scope for s in today.sub_areas} == {"31": 3}
    assert then.area.total.as_dict() == today.area.total.as_dict()  # same units, counted once either way
    assert {s.code: s.total.in_scope for s in then_30.sub_areas} == {"10001": 1, "10002": 1}
    assert {s.code: (s.total.in_scope, s.total.recognised) for s in today_31.sub_areas} == {
        "11560": (2, 2), "10002": (1, 0)}
    assert {s.code: s.name for s in today_31.sub_areas} == {"11560": "Phường Mới", "10002": "Xã Giữ Nguyên"}


def test_a_bad_scope_or_boundary_is_rejected_in_both_languages(store: Engine) -> None:
    from antt.errors import InvalidArgumentError

    with store.connect() as conn:
        for scope, boundary in (("district:001", "then"), ("province:", "then"), ("national", "yesterday")):
            with pytest.raises(InvalidArgumentError) as err:
                queries.report(conn, 2024, scope, boundary)
            assert " / " in str(err.value)
        with pytest.raises(InvalidArgumentError):
            queries.report(conn, 1800, "national")

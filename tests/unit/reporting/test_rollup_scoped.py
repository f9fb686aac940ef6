"""Rollups that read only their scope (and year) give byte-identical reports to rollups over every unit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from services.reporting import queries
from services.reporting.rollup.snapshot import load
from antt.events.v1 import registry_pb2 as rpb
from services.reporting.rollup import fast
from tests.unit.reporting.builders import World, meta
from tests.unit.reporting.test_rollups import HN, HP, Y, build

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 22)
SCOPES = ("national", f"province:{HN}", f"province:{HP}", "province:79",
          "commune:00004", "commune:00008", "commune:11557", "commune:11560", "commune:99999")


def add_varied_lives(world: World) -> None:
    """Lives the SQL counting must leave to the fold, or must name right: moves, renames, eligibility changes."""
    # moved between provinces within the year: counts where it was on 31 December, read from both provinces
    world.unit("m3", "khu_dan_cu", HP, "11560", date(2020, 1, 1))
    world.register("m3", Y, (HP, "11560"), date(Y, 1, 12))
    world.move("m3", (HP, "11560"), (HN, "00008"), date(Y, 9, 1))
    world.decide("m3", Y, (HN, "00008"), True, date(Y, 11, 12))
    world.classify("m3", Y, (HN, "00008"), "xuat_sac", date(Y, 11, 21))
    # renamed twice (the award line shows the last name), and a unit whose eligibility ends and one where it starts
    world.unit("r1", "khu_dan_cu", HP, "11557", date(2020, 1, 1))
    for name in ("Tên mới", "Tên cuối"):
        world.registry.add(rpb.UnitUpdated(meta=meta(date(Y, 3, 1), version=world._v("r1"), aggregate="r1"),
                                           unit_id="r1", code="C-r1", name=name, province_code=HP,
                                           commune_code="11557"), HP, "11557")
    world.register("r1", Y, (HP, "11557"), date(Y, 1, 12))
    world.decide("r1", Y, (HP, "11557"), True, date(Y, 11, 12))
    world.classify("r1", Y, (HP, "11557"), "xuat_sac", date(Y, 11, 21))
    for uid, before, after in (("e1", True, False), ("e2", False, True)):
        world.unit(uid, "doanh_nghiep", HN, "00004", date(2020, 1, 1), eligible=before)
        world.registry.add(rpb.UnitEligibilityFactsDeclared(
            meta=meta(date(Y, 7, 1), version=world._v(uid), aggregate=uid), unit_id=uid, code=f"C-{uid}",
            unit_type="doanh_nghiep", province_code=HN, commune_code="00004",
            eligibility=rpb.Eligibility(eligible=after)), HN, "00004")
        world.register(uid, Y, (HN, "00004"), date(Y, 1, 12))


@pytest.fixture
def loaded(store: Engine, feed: Callable[[World], None]) -> Engine:
    world = World()
    build(world)
    add_varied_lives(world)
    feed(world)
    return store


@pytest.mark.parametrize("boundary", ["then", "today"])
@pytest.mark.parametrize("year", [Y - 1, Y, Y + 1])
def test_scoped_reads_give_the_report_of_every_unit(loaded: Engine, boundary: str, year: int) -> None:
    with loaded.connect() as conn:
        everything = load(conn)
        for scope in SCOPES:
            fast = queries.report(conn, year, scope, boundary, today=TODAY)
            full = queries.report_from_snapshot(everything, year, scope, boundary, today=TODAY)
            assert fast.canonical() == full.canonical(), (scope, boundary, year)


def test_a_scoped_snapshot_holds_only_units_ever_placed_in_the_scope(loaded: Engine) -> None:
    with loaded.connect() as conn:
        hp = load(conn, "province", HP, Y)
        commune = load(conn, "commune", "11557", Y)
        everything = load(conn)
    # m2 left Hải Phòng in 2026 and m3 in 2025: both are read for Hải Phòng, no Hà Nội-only unit is
    assert set(hp.units) == {"b1", "b2", "b3", "m2", "c1", "c0", "m3", "r1"}
    assert set(commune.units) == {"b3", "m2", "r1"}
    assert {year for _, year in hp.cases} == {Y} and len(everything.units) > len(hp.units)
    report = queries.report_from_snapshot(hp, Y, f"province:{HP}", today=TODAY)
    assert report.area.total.in_scope == 6  # b1, b2, b3, m2, c1, r1: m3 counts in Hà Nội, c0 closed in 2024


def test_simple_lives_are_counted_in_sql_and_the_others_folded(loaded: Engine) -> None:
    with loaded.connect() as conn:
        national = fast.then_inputs(conn, "national", "", Y)
        commune = fast.then_inputs(conn, "commune", "11557", Y)
    # moved, closed and eligibility-changing units are folded; the rest are counted in SQL
    assert set(national.snapshot.units) == {"m1", "m2", "m3", "c1", "c0", "e1", "e2"}
    assert sum(g.figures.in_scope for g in national.counted) == 8 + 1  # PLAN and r1 (x1 and n1 not expected)
    assert set(commune.snapshot.units) == {"m2"} and sum(g.figures.in_scope for g in commune.counted) == 2
    assert [(a["unit_code"], a["name"]) for a in commune.awarded] == [("C-r1", "Tên cuối")]
    report = queries.report_from_snapshot(national.snapshot, Y, "national", today=TODAY, counted=national.counted,
                                          awarded=national.awarded)
    assert report.area.total.in_scope == 8 + 1 + 5  # + m1, m2, m3, c1, e2; e1 not eligible on 31 December
    assert {a["unit_code"]: a["name"] for a in report.award_eligible}["C-r1"] == "Tên cuối"

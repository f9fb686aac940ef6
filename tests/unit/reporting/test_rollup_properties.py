"""Property: for random countries (moves, closings, renames, eligibility changes, area merges, cases decided,
revoked, classified and reclassified, in any interleaving of the two streams and any batching), the rollups
read through the per-unit lives equal the fold of every unit's whole history, at every scope, year and
boundary ("then" and "today")."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.events.v1 import registry_pb2 as rpb
from antt.messaging.tracking import metadata as tracking_metadata
from services.reporting import projections, queries
from services.reporting.consumers import FROM_ASSESSMENT, FROM_REGISTRY
from services.reporting.rollup.snapshot import load
from tests.unit.reporting.builders import World, meta

pytestmark = pytest.mark.unit

Y = 2025
TODAY = date(2026, 11, 22)
PLACES = [("01", "00004"), ("01", "00008"), ("31", "11560"), ("31", "11557")]
TYPES = ("khu_dan_cu", "doanh_nghiep")
LEVELS = ("xuat_sac", "kha", "trung_binh", "yeu")
SCOPES = ("national", "province:01", "province:31", *(f"commune:{c}" for _, c in PLACES))
UNIT_STEPS = ("move", "close", "rename", "eligibility", "case")

unit_plans = st.lists(st.tuples(
    st.integers(0, len(PLACES) - 1), st.sampled_from(TYPES), st.integers(2023, 2026), st.booleans(),
    st.lists(st.tuples(st.sampled_from(UNIT_STEPS), st.integers(0, len(PLACES) - 1), st.integers(1, 12),
                       st.integers(Y - 1, Y + 1), st.integers(0, 7)), max_size=4)), min_size=1, max_size=8)


def build(world: World, plan: list) -> None:  # type: ignore[type-arg]
    """Areas, then each unit's registration and its steps (cases are decided on flags picked by `outcome`)."""
    for province in ("01", "31"):
        world.area("province", province, f"Tỉnh {province}")
    for province, commune in PLACES:
        world.area("commune", commune, f"Xã {commune}", "province", province)
    world.merge("commune", "00008", "00004", date(2026, 7, 1))  # "today" re-aggregates 00008 into 00004
    for n, (place, unit_type, opened, eligible, steps) in enumerate(plan):
        uid, where = f"u{n}", PLACES[place]
        world.unit(uid, unit_type, *where, date(opened, 3, 1), eligible=eligible)
        for kind, to, month, year, outcome in steps:
            on = date(year, month, 10)
            if kind == "move":
                world.move(uid, where, PLACES[to], on)
                where = PLACES[to]
            elif kind == "close":
                world.close(uid, where, on)
            elif kind == "rename":
                world.registry.add(rpb.UnitUpdated(meta=meta(on, version=world._v(uid), aggregate=uid), unit_id=uid,
                                                   code=f"C-{uid}", name=f"Tên {n}-{month}", province_code=where[0],
                                                   commune_code=where[1]), *where)
            elif kind == "eligibility":
                world.registry.add(rpb.UnitEligibilityFactsDeclared(
                    meta=meta(on, version=world._v(uid), aggregate=uid), unit_id=uid, code=f"C-{uid}",
                    unit_type=unit_type, province_code=where[0], commune_code=where[1],
                    eligibility=rpb.Eligibility(eligible=bool(outcome % 2))), *where)
            else:
                world.register(uid, year, where, date(year, 1, 15), late=outcome == 1)
                if outcome >= 2:
                    world.decide(uid, year, where, outcome != 2, date(year, 11, 10), late=outcome == 3)
                if outcome >= 4:
                    world.classify(uid, year, where, LEVELS[outcome % 4], date(year, 11, 20), late=outcome == 5)
                if outcome == 6:
                    world.reclassify(uid, year, where, "kha", LEVELS[outcome % 4], date(year, 12, 1))
                if outcome == 7:
                    world.revoke(uid, year, where, date(year, 12, 5))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plan=unit_plans, batch=st.integers(1, 50), assessment_first=st.booleans())
def test_rollups_through_the_lives_equal_the_fold_of_every_unit(plan: list, batch: int,  # type: ignore[type-arg]
                                                               assessment_first: bool) -> None:
    world = World()
    build(world, plan)
    engine = sa.create_engine("sqlite://")
    tracking_metadata.create_all(engine)
    projections.metadata.create_all(engine)
    specs = [(FROM_REGISTRY, world.registry.events), (FROM_ASSESSMENT, world.assessment.events)]
    batched = {FROM_REGISTRY.name: projections.on_registry_events,
               FROM_ASSESSMENT.name: projections.on_assessment_events}
    with engine.begin() as conn:
        for spec, events in (reversed(specs) if assessment_first else specs):
            for start in range(0, len(events), batch):
                batched[spec.name](conn, events[start:start + batch])
    with engine.connect() as conn:
        everything = load(conn)
        for boundary in ("then", "today"):
            for year in (Y - 1, Y, Y + 1):
                for scope in SCOPES:
                    fast = queries.report(conn, year, scope, boundary, today=TODAY)
                    full = queries.report_from_snapshot(everything, year, scope, boundary, today=TODAY)
                    assert fast.canonical() == full.canonical(), (scope, boundary, year)

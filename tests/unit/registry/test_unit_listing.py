"""ListUnits from the catalog's unit summaries gives exactly what walking every whole Unit gave.

The reference below is the listing as it was when the catalog kept every Unit aggregate in memory;
the registry now keeps a summary per unit and reads whole units only for the page it returns.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from antt.contracts.vocabulary import UnitType
from services.registry import reference
from services.registry.application import Registry
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.placement import place_unit
from services.registry.domain.unit import ClosureReason, Unit
from services.registry.unit_queries import UnitView, _last_open_day, eligibility_of

from .conftest import OFFICER

pytestmark = pytest.mark.unit

START = date(2025, 7, 1)  # the 2025 communes exist from the merger on


def reference_listing(app: Registry, units: list[Unit], on: date, *, province_code: str = "", commune_code: str = "",
                      unit_type: UnitType | None = None, eligible: bool | None = None, after_code: str = "",
                      limit: int = 100, status: str = "open") -> list[UnitView]:
    """The listing over whole units, as before the summaries."""
    histories = app.catalog.histories()
    views: list[UnitView] = []
    for unit in sorted(units, key=lambda u: u.code):
        if unit.code <= after_code or (unit_type is not None and unit.unit_type is not unit_type):
            continue
        closed = unit.is_closed_on(on)
        if (status == "open" and closed) or (status == "closed" and not closed) or on < unit.effective_date:
            continue
        place = place_unit(unit, histories, on if not closed else _last_open_day(unit))
        if place is None or (province_code and place.province_code != province_code):
            continue
        if commune_code and place.commune_code != commune_code:
            continue
        verdict = eligibility_of(unit, on)
        if eligible is not None and verdict.eligible is not eligible:
            continue
        views.append(UnitView(unit, place, verdict))
        if len(views) >= limit:
            break
    return views


def populate(app: Registry, rng: random.Random, count: int) -> None:
    """Units of every type with random facts, moves, updates and closures over two years."""
    communes = sorted((c for c in reference.communes().values() if c.province_code in {"31", "01"}),
                      key=lambda c: c.code)
    for i in range(count):
        commune = rng.choice(communes)
        kind = rng.choice(list(UnitType))
        registered = START + timedelta(days=rng.randrange(0, 400))
        unit = app.register_unit(f"U-{rng.randrange(10**6):06d}-{i}", f"Đơn vị {i}", kind.value, commune.province_code,
                                 commune.code, OFFICER, registered)
        when = registered
        for _ in range(rng.randrange(0, 4)):
            when += timedelta(days=rng.randrange(0, 90))
            action = rng.random()
            if action < 0.4:
                facts = EligibilityFacts(
                    armed_forces=kind is UnitType.CO_QUAN and rng.random() < 0.5,
                    size_class=rng.choice(list(SizeClass)) if kind is UnitType.DOANH_NGHIEP else None,
                    size_declared_on=when if kind is UnitType.DOANH_NGHIEP else None,
                    school_levels=frozenset(rng.sample(list(SchoolLevel), 2)) if kind is UnitType.CO_SO_GIAO_DUC
                    else frozenset())
                app.declare_eligibility_facts(unit.id, facts, when, OFFICER)
            elif action < 0.7:
                target = rng.choice(communes)
                app.move_unit(unit.id, target.province_code, target.code, when, OFFICER)
            elif action < 0.8:
                app.update_unit(unit.id, OFFICER, name=f"Tên mới {i}")
            else:
                app.close_unit(unit.id, ClosureReason.DISSOLVED, when, OFFICER)
                break


def key(views: list[UnitView]) -> list[tuple[object, ...]]:
    """What a ListUnits reply is made of: the unit as it stands, its place and its eligibility on the date."""
    return [(v.unit.code, v.unit.version, v.unit.name, v.place, v.eligibility) for v in views]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_listing_from_summaries_equals_the_listing_over_whole_units(tree_app: Registry, seed: int) -> None:
    rng = random.Random(seed)
    populate(tree_app, rng, 150)
    tree_app.catalog.units()  # a first listing, then more events: the summaries must catch up with them
    populate(tree_app, rng, 60)
    units = [tree_app.get_unit(s.id) for s in tree_app.catalog.units()]
    assert len(units) == 210
    for _ in range(60):
        on = START + timedelta(days=rng.randrange(-30, 700))
        some = rng.choice(units)
        filters = rng.choice([
            {}, {"province_code": rng.choice(["31", "01"])}, {"commune_code": some.locations[-1].commune_code},
            {"unit_type": rng.choice(list(UnitType))}, {"eligible": rng.choice([True, False])},
            {"after_code": some.code}, {"status": rng.choice(["open", "closed", "all"])},
            {"province_code": "31", "eligible": True, "status": "all", "limit": 7},
        ])
        limit = int(filters.pop("limit", rng.choice([5, 100, 1000])))  # type: ignore[call-overload]
        want = reference_listing(tree_app, units, on, limit=limit, **filters)  # type: ignore[arg-type]
        got = tree_app.list_units(on, limit=limit, **filters)  # type: ignore[arg-type]
        assert key(got) == key(want), (on, filters, limit)

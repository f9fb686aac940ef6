"""Where a unit stood on a date: its recorded commune carried through the area reorganisations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.registry.domain.area_history import AreaKey, AreaLevel
from services.registry.domain.crosswalk import Histories, ancestor_as_of, change_dates, resolve
from services.registry.domain.unit import Location, Unit


@dataclass(frozen=True)
class UnitPlace:
    """A unit's commune and province on a date; commune_code is "" when the commune split (see candidates)."""

    on: date
    commune_code: str
    province_code: str
    exact: bool
    candidates: tuple[str, ...]
    recorded_commune_code: str


def _province_of(histories: Histories, commune_code: str, on: date) -> str:
    key = ancestor_as_of(histories, AreaKey(AreaLevel.COMMUNE, commune_code), on, AreaLevel.PROVINCE)
    return key.code if key else ""


def place_location(location: Location, histories: Histories, on: date) -> UnitPlace:
    """The commune and province on `on` of a unit recorded at `location` (unknown areas stay as recorded)."""
    commune_key = AreaKey(AreaLevel.COMMUNE, location.commune_code)
    if commune_key in histories:
        res = resolve(histories, commune_key, on)
        provinces = {_province_of(histories, code, on) for code in res.codes}
        province = provinces.pop() if len(provinces) == 1 else ""
        commune = res.codes[0] if len(res.codes) == 1 else ""
        return UnitPlace(on, commune, province, res.exact, res.codes, location.commune_code)
    province_key = AreaKey(AreaLevel.PROVINCE, location.province_code)
    province = location.province_code
    exact = True
    if province_key in histories:
        res = resolve(histories, province_key, on)
        province, exact = (res.codes[0] if len(res.codes) == 1 else ""), res.exact
    return UnitPlace(on, location.commune_code, province, exact, (location.commune_code,), location.commune_code)


def place_unit(unit: Unit, histories: Histories, on: date) -> UnitPlace | None:
    """Where the unit was on the date; None before its registration or after its closure."""
    location = unit.location_on(on)
    return place_location(location, histories, on) if location else None


def place_timeline(unit: Unit, histories: Histories) -> list[UnitPlace]:
    """Each place the unit has been in, from the date it started there (moves and reorganisations)."""
    dates = {loc.effective_date for loc in unit.locations}
    dates.update(d for d in change_dates(histories.values()) if d > unit.effective_date)
    timeline: list[UnitPlace] = []
    for on in sorted(dates):
        place = place_unit(unit, histories, on)
        if place is None:
            continue
        last = timeline[-1] if timeline else None
        if last is None or (place.commune_code, place.province_code, place.candidates) != (
                last.commune_code, last.province_code, last.candidates):
            timeline.append(place)
    return timeline

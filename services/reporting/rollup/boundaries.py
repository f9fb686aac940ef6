"""Boundaries of a report: the areas in force in the year, or today's areas through the registry's crosswalk."""

from __future__ import annotations

import enum
from datetime import date

from services.reporting.rollup.snapshot import Place, Snapshot


class BoundaryMode(enum.Enum):
    """How a past year's units are placed."""

    THEN = "then"    # in the communes and provinces in force that year
    TODAY = "today"  # re-aggregated into the areas in force on the report's reference day


def successors(snapshot: Snapshot, level: str, code: str, on: date) -> tuple[str, ...]:
    """The codes in force on `on` that an area maps to, following merges and splits dated up to `on`."""
    found: set[str] = set()
    stack, seen = [code], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        moves = [s for s in snapshot.successions.get((level, current), []) if s[0] <= on]
        info = snapshot.areas.get((level, current))
        ended = info is not None and info.abolished_on is not None and info.abolished_on <= on
        if not ended or any(not whole for _, _, whole in moves):
            found.add(current)
        stack.extend(target for _, target, _ in moves)
    return tuple(sorted(found))


def _today_commune(snapshot: Snapshot, place: Place, latest: Place, on: date) -> str:
    codes = successors(snapshot, "commune", place.commune_code, on)
    if not codes:
        return place.commune_code
    if latest.commune_code in codes:
        return latest.commune_code
    return codes[0]


def _province_of(snapshot: Snapshot, commune: str, fallback: str, on: date) -> str:
    info = snapshot.areas.get(("commune", commune))
    if info is not None and info.parent_level == "province" and info.parent_code:
        return info.parent_code
    codes = successors(snapshot, "province", fallback, on)
    return codes[0] if len(codes) == 1 else fallback


def place(snapshot: Snapshot, unit_id: str, year: int, mode: BoundaryMode, today: date) -> tuple[str, str]:
    """(province_code, commune_code) in which a unit counts for a year under a boundary mode."""
    unit = snapshot.units[unit_id]
    then = unit.place_on(unit.reference_date(year))
    if mode is BoundaryMode.THEN:
        return then.province_code, then.commune_code
    latest = unit.places[-1]
    commune = _today_commune(snapshot, then, latest, today)
    fallback = latest.province_code if latest.commune_code == commune else then.province_code
    return _province_of(snapshot, commune, fallback, today), commune


def area_name(snapshot: Snapshot, level: str, code: str) -> str:
    """The latest recorded name of an area (its code when reporting has not seen it)."""
    info = snapshot.areas.get((level, code))
    return info.name if info is not None and info.name else code

"""A snapshot of the read models a report needs, read in one transaction (pure values afterwards)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from services.reporting.projections import areas, cases, unit_history


@dataclass(frozen=True)
class Place:
    """Where a unit is from a date."""

    effective_from: date
    province_code: str
    commune_code: str


@dataclass
class UnitLife:
    """A unit's life: type, opening, closing, places and eligibility over time."""

    unit_id: str
    code: str
    name: str
    unit_type: str
    opened_on: date
    closed_on: date | None
    places: list[Place] = field(default_factory=list)
    eligibility: list[tuple[date, bool]] = field(default_factory=list)

    def exists_in(self, year: int) -> bool:
        """Whether the unit existed on some day of the year."""
        return self.opened_on <= date(year, 12, 31) and (self.closed_on is None or self.closed_on > date(year, 1, 1))

    def reference_date(self, year: int) -> date:
        """The last day of the year on which the unit existed (the day its place and scope are read)."""
        end = date(year, 12, 31)
        if self.closed_on is not None and self.closed_on <= end:
            return date.fromordinal(self.closed_on.toordinal() - 1)
        return end

    def place_on(self, on: date) -> Place:
        """The place in force on a date (the first place if the date is before it)."""
        current = self.places[0]
        for place in self.places:
            if place.effective_from <= on:
                current = place
        return current

    def eligible_on(self, on: date) -> bool:
        """Eligibility in force on a date."""
        current = self.eligibility[0][1] if self.eligibility else True
        for since, eligible in self.eligibility:
            if since <= on:
                current = eligible
        return current


@dataclass(frozen=True)
class Case:
    """A unit's ANTT case for a year."""

    registered_on: date | None
    registered_late: bool
    recognised: bool | None
    decision_date: date | None
    decided_late: bool
    revoked_on: date | None
    closed_on: date | None


@dataclass(frozen=True)
class Classified:
    """A unit's decided movement level for a year."""

    level: str
    points: float
    late: bool


@dataclass(frozen=True)
class AreaInfo:
    """An area's latest name and parent, its dates and (for the crosswalk) where it went."""

    level: str
    code: str
    name: str
    parent_level: str
    parent_code: str
    established_on: date | None
    abolished_on: date | None


@dataclass
class Snapshot:
    """Everything a rollup reads."""

    units: dict[str, UnitLife]
    cases: dict[tuple[str, int], Case]
    levels: dict[tuple[str, int], Classified]
    areas: dict[tuple[str, str], AreaInfo]
    successions: dict[tuple[str, str], list[tuple[date, str, bool]]]


def load(conn: sa.Connection) -> Snapshot:
    """Read every read model a report needs."""
    units: dict[str, UnitLife] = {}
    h = unit_history.unit_history
    for r in conn.execute(sa.select(h).order_by(h.c.unit_id, h.c.version)):
        unit = units.get(r.unit_id)
        if r.change == "registered":
            unit = units[r.unit_id] = UnitLife(r.unit_id, r.code, r.name, r.unit_type, r.effective_from, None)
        if unit is None:
            continue  # history without its registration: reported by the gap check, not counted
        if r.change in ("registered", "moved"):
            unit.places.append(Place(r.effective_from, r.province_code, r.commune_code))
        if r.eligible is not None:
            unit.eligibility.append((r.effective_from, bool(r.eligible)))
        if r.change == "updated" and r.name:
            unit.name = r.name
        if r.change == "closed":
            unit.closed_on = r.effective_from
    case_rows = {(r.unit_id, int(r.year)): Case(r.registered_on, bool(r.registered_late), r.recognised,
                                                 r.decision_date, bool(r.decided_late), r.revoked_on, r.closed_on)
                 for r in conn.execute(sa.select(cases.cases))}
    levels = {(r.unit_id, int(r.year)): Classified(r.level, float(r.points), bool(r.late))
              for r in conn.execute(sa.select(cases.classifications))}
    latest: dict[tuple[str, str], sa.Row[tuple[object, ...]]] = {}
    states = areas.area_states
    for r in conn.execute(sa.select(states).order_by(states.c.level, states.c.code, states.c.version)):
        latest[(r.level, r.code)] = r
    area_info: dict[tuple[str, str], AreaInfo] = {}
    for r in conn.execute(sa.select(areas.areas)):
        s = latest.get((r.level, r.code))
        area_info[(r.level, r.code)] = AreaInfo(r.level, r.code, str(s.name) if s else r.code,
                                                str(s.parent_level) if s else "", str(s.parent_code) if s else "",
                                                r.established_on, r.abolished_on)
    successions: dict[tuple[str, str], list[tuple[date, str, bool]]] = {}
    for r in conn.execute(sa.select(areas.area_successions)):
        successions.setdefault((r.level, r.code), []).append((r.effective_date, r.target_code, bool(r.whole)))
    return Snapshot(units, case_rows, levels, area_info, successions)

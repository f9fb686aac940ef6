"""A snapshot of the read models a report needs, read in one transaction (pure values afterwards)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
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


def candidates(kind: str, code: str) -> sa.Select[tuple[str]] | None:
    """The units ever placed in a province or commune (None: every unit), through the area indexes."""
    h = unit_history.unit_history
    if kind == "province":
        return sa.select(h.c.unit_id).where(h.c.province_code == code).distinct()
    if kind == "commune":
        return sa.select(h.c.unit_id).where(h.c.commune_code == code).distinct()
    return None


IDS_PER_QUERY = 2000  # unit ids bound per IN list (well under SQLite's and PostgreSQL's parameter limits)


def load(conn: sa.Connection, kind: str = "national", code: str = "", year: int | None = None,
         unit_ids: Collection[str] | None = None, also_named: Iterable[tuple[str, str]] = ()) -> Snapshot:
    """Read the read models a report needs: every unit, or only the units ever placed in a province or commune
    (a superset of those a "then" report of that area counts), or only `unit_ids` (the others being counted
    elsewhere); with `year`, only that year's cases. A scoped snapshot holds only the areas a "then" report
    names: the scope, its units' places and `also_named`."""
    units: dict[str, UnitLife] = {}
    h = unit_history.unit_history
    wanted = candidates(kind, code)
    history = _rows(conn, sa.select(h).order_by(h.c.unit_id, h.c.version), h.c.unit_id, wanted, unit_ids)
    for r in history:
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
                 for r in _rows(conn, _of_year(cases.cases, year), cases.cases.c.unit_id, wanted, unit_ids)}
    levels = {(r.unit_id, int(r.year)): Classified(r.level, float(r.points), bool(r.late))
              for r in _rows(conn, _of_year(cases.classifications, year), cases.classifications.c.unit_id,
                                wanted, unit_ids)}
    # a scoped snapshot names only its scope and the areas its units were placed in (all a "then" report reads)
    only = None if kind == "national" else {(kind, code), *also_named} | {
        (level, c) for u in units.values() for pl in u.places
        for level, c in (("province", pl.province_code), ("commune", pl.commune_code))}
    area_info, successions = _areas(conn, only)
    return Snapshot(units, case_rows, levels, area_info, successions)


def _area_filter(table: sa.Table, only: set[tuple[str, str]] | None) -> sa.Select[tuple[object, ...]]:
    query = sa.select(table)
    if only is None:
        return query
    return query.where(sa.or_(sa.false(), *(
        sa.and_(table.c.level == level, table.c.code.in_(sorted(c for lv, c in only if lv == level)))
        for level in sorted({lv for lv, _ in only}))))


def _areas(conn: sa.Connection, only: set[tuple[str, str]] | None
           ) -> tuple[dict[tuple[str, str], AreaInfo], dict[tuple[str, str], list[tuple[date, str, bool]]]]:
    """Areas with their latest name and parent, and the crosswalk: every area, or only those in `only`."""
    latest: dict[tuple[str, str], sa.Row[tuple[object, ...]]] = {}
    states = areas.area_states
    for r in conn.execute(_area_filter(states, only).order_by(states.c.level, states.c.code, states.c.version)):
        latest[(r.level, r.code)] = r
    area_info: dict[tuple[str, str], AreaInfo] = {}
    for r in conn.execute(_area_filter(areas.areas, only)):
        s = latest.get((r.level, r.code))
        area_info[(r.level, r.code)] = AreaInfo(r.level, r.code, str(s.name) if s else r.code,
                                                str(s.parent_level) if s else "", str(s.parent_code) if s else "",
                                                r.established_on, r.abolished_on)
    successions: dict[tuple[str, str], list[tuple[date, str, bool]]] = {}
    for r in conn.execute(_area_filter(areas.area_successions, only)):
        successions.setdefault((r.level, r.code), []).append((r.effective_date, r.target_code, bool(r.whole)))
    return area_info, successions


def _of_year(table: sa.Table, year: int | None) -> sa.Select[tuple[object, ...]]:
    """Rows of a per-(unit, year) table, of one year when given."""
    return sa.select(table) if year is None else sa.select(table).where(table.c.year == year)


def _rows(conn: sa.Connection, query: sa.Select[tuple[object, ...]], unit_id: sa.Column[str],
          wanted: sa.Select[tuple[str]] | None, unit_ids: Collection[str] | None
          ) -> Iterator[sa.Row[tuple[object, ...]]]:
    """The query's rows for the given unit ids (in sorted batches, keeping a unit_id order), else the wanted units."""
    if unit_ids is None:
        yield from conn.execute(query if wanted is None else query.where(unit_id.in_(wanted)))
        return
    ids = sorted(unit_ids)
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield from conn.execute(query.where(unit_id.in_(ids[start:start + IDS_PER_QUERY])))

"""Counting "then" rollups in SQL: units with a simple life are grouped in the database, the others folded.

A unit's life is simple when its history starts with its one registration and has no move, no closing and
one eligibility throughout (one value, or every eligibility fact effective by the opening, as when the facts are
declared with the registration): it then counts in the year iff it was opened by 31 December and is eligible, in
its registered place. Such units are counted with GROUP BY over the read models; every other unit (moved,
closed, re-registered, eligibility changed) goes through the snapshot and `report.compute`, unchanged.
Whether a life is simple, and its registration, are kept per unit by the projections (`projections/lives.py`),
so a scope reads one row per unit it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from services.reporting.projections import cases, lives, unit_history
from services.reporting.rollup.figures import LEVELS, Figures
from services.reporting.rollup.report import Counted
from services.reporting.rollup.snapshot import Snapshot, load

_L = lives.unit_lives


@dataclass
class ThenInputs:
    """What a "then" report of a scope reads: the folded units, the SQL-counted groups and their award lines."""

    snapshot: Snapshot
    counted: list[Counted]
    awarded: list[dict[str, str]]


_AWARD_KEYS = ("unit_code", "name", "unit_type", "province_code", "commune_code", "level")


def _when(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows of a group meet a condition."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _counted(conn: sa.Connection, joined: sa.FromClause, counted_here: list[sa.ColumnElement[bool]]) -> list[Counted]:
    """The counted units' figures summed in SQL per place and type: each unit adds `case_figures` of its case."""
    c, cl = cases.cases, cases.classifications
    reg = c.c.registered_on.is_not(None)
    decided = sa.and_(reg, c.c.recognised.is_not(None))
    recognised = sa.and_(reg, c.c.recognised.is_(True))
    classified = cl.c.level.is_not(None)
    sums = (sa.func.count(), _when(reg), _when(sa.and_(reg, sa.not_(c.c.registered_late))), _when(decided),
            _when(sa.and_(decided, sa.not_(c.c.decided_late))), _when(sa.and_(recognised, c.c.revoked_on.is_(None))),
            _when(sa.and_(reg, c.c.recognised.is_(False))), _when(sa.and_(recognised, c.c.revoked_on.is_not(None))),
            _when(classified), _when(sa.and_(classified, sa.not_(cl.c.late))),
            *(_when(cl.c.level == level) for level in LEVELS))
    place = (_L.c.province_code, _L.c.commune_code, _L.c.unit_type)
    groups: dict[tuple[str, str, str], Figures] = {}
    for row in conn.execute(sa.select(*place, *sums).select_from(joined).where(*counted_here).group_by(*place)):
        (in_scope, registered, registered_on_time, decided_n, decided_on_time, recognised_n, not_recognised, revoked,
         classified_n, classified_on_time) = (int(v) for v in row[3:13])
        groups[tuple(row[:3])] = Figures(in_scope, registered, registered_on_time, decided_n, decided_on_time,
                                         recognised_n, not_recognised, revoked, classified_n, classified_on_time,
                                         {level: int(n) for level, n in zip(LEVELS, row[13:])})
    # levels outside the known ones (none in practice) are counted under their own name, as case_figures does;
    # a group has some only when it has more classified units than known levels (another scan of the scope else)
    if all(f.classified == sum(f.levels.values()) for f in groups.values()):
        return [Counted(p, c_, t, f) for (p, c_, t), f in groups.items()]
    for *key, level, n in conn.execute(sa.select(*place, cl.c.level, sa.func.count()).select_from(joined)
                                       .where(*counted_here, classified, cl.c.level.not_in(LEVELS))
                                       .group_by(*place, cl.c.level)):
        levels = groups[tuple(key)].levels
        levels[level] = levels.get(level, 0) + int(n)
    return [Counted(p, c_, t, f) for (p, c_, t), f in groups.items()]


def then_inputs(conn: sa.Connection, kind: str, code: str, year: int) -> ThenInputs:
    """The inputs of a "then" report of a scope for a year (national, province or commune)."""
    c, cl = cases.cases, cases.classifications
    joined = (_L.outerjoin(c, sa.and_(c.c.unit_id == _L.c.unit_id, c.c.year == year))
              .outerjoin(cl, sa.and_(cl.c.unit_id == _L.c.unit_id, cl.c.year == year)))
    counted_here = [_L.c.simple.is_(True), _L.c.opened_on <= date(year, 12, 31), _L.c.eligible.is_(True)]
    if kind == "province":
        counted_here.insert(0, _L.c.province_code == code)
    elif kind == "commune":
        counted_here.insert(0, _L.c.commune_code == code)
    counted = _counted(conn, joined, counted_here)
    # the counted units that may be awarded (recognised, not revoked, classified), named as the fold names them
    award = sa.and_(*counted_here, c.c.registered_on.is_not(None), c.c.recognised.is_(True), c.c.revoked_on.is_(None),
                    cl.c.level.is_not(None))
    name = sa.case((_L.c.renamed > 0, _L.c.renamed_to), else_=_L.c.name)
    awarded = [dict(zip(_AWARD_KEYS, row)) for row in conn.execute(
        sa.select(_L.c.code, name, _L.c.unit_type, _L.c.province_code, _L.c.commune_code, cl.c.level)
        .select_from(joined).where(award).order_by(_L.c.unit_id)).tuples()]
    # the units left to fold: lives that are not simple, ever placed in the scope
    # (from the few lives that are not simple, each probing its own history: not a scan of the scope's history)
    folded_query = sa.select(_L.c.unit_id).where(_L.c.simple.is_(False))
    if kind in ("province", "commune"):
        h = unit_history.unit_history
        # `|| ''` keeps the planner on the history's primary key (per unit), not on a scan of the area's index
        folded_query = folded_query.where(sa.exists().where(h.c.unit_id == _L.c.unit_id,
                                                            h.c[f"{kind}_code"].concat("") == code))
    folded = list(conn.execute(folded_query).scalars())
    named = {(lv, code) for g in counted for lv, code in (("province", g.province), ("commune", g.commune))}
    snapshot = load(conn, kind, code, year, unit_ids=folded, also_named=named)
    return ThenInputs(snapshot, counted, awarded)

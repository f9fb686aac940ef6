"""Counting "then" rollups in SQL: units with a simple life are grouped in the database, the others folded.

A unit's life is simple when its history starts with its one registration and has no move, no closing and
one eligibility throughout: it then counts in the year iff it was opened by 31 December and is eligible, in
its registered place. Such units are counted with GROUP BY over the read models; every other unit (moved,
closed, re-registered, eligibility changed) goes through the snapshot and `report.compute`, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from services.reporting.projections import cases, unit_history
from services.reporting.rollup.report import Counted, case_figures
from services.reporting.rollup.snapshot import Snapshot, candidates, load

_H = unit_history.unit_history


@dataclass
class ThenInputs:
    """What a "then" report of a scope reads: the folded units, the SQL-counted groups and their award lines."""

    snapshot: Snapshot
    counted: list[Counted]
    awarded: list[dict[str, str]]


def _registered(column: sa.Column[object]) -> sa.ColumnElement[object]:
    """A column of the unit's registration row (a simple life has exactly one)."""
    return sa.func.max(sa.case((_H.c.change == "registered", column)))


def _lives(wanted: sa.Select[tuple[str]] | None) -> sa.Subquery:
    """One row per unit: whether its life is simple (see the module), its registration, its one eligibility
    (1, or 0) and whether it was renamed."""
    eligible = sa.case((_H.c.eligible.is_(None), None), (_H.c.eligible.is_(True), 1), else_=0)
    simple = sa.and_(sa.func.sum(sa.case((_H.c.change == "registered", 1), else_=0)) == 1,
                     sa.func.sum(sa.case((_H.c.change.in_(("moved", "closed")), 1), else_=0)) == 0,
                     sa.func.min(_H.c.version) == _registered(_H.c.version),
                     sa.func.count(sa.distinct(eligible)) <= 1)
    renamed = sa.func.sum(sa.case((sa.and_(_H.c.change == "updated", _H.c.name != ""), 1), else_=0))
    query = (sa.select(_H.c.unit_id, sa.case((simple, 1), else_=0).label("simple"),
                       sa.func.coalesce(sa.func.max(eligible), 1).label("eligible"), renamed.label("renamed"),
                       _registered(_H.c.effective_from).label("opened_on"), _registered(_H.c.code).label("code"),
                       _registered(_H.c.name).label("name"), _registered(_H.c.unit_type).label("unit_type"),
                       _registered(_H.c.province_code).label("province_code"),
                       _registered(_H.c.commune_code).label("commune_code"))
             .group_by(_H.c.unit_id))
    if wanted is not None:
        query = query.where(_H.c.unit_id.in_(wanted))
    return query.subquery("lives")


def then_inputs(conn: sa.Connection, kind: str, code: str, year: int) -> ThenInputs:
    """The inputs of a "then" report of a scope for a year (national, province or commune)."""
    r = _lives(candidates(kind, code))
    c, cl = cases.cases, cases.classifications
    joined = (r.outerjoin(c, sa.and_(c.c.unit_id == r.c.unit_id, c.c.year == year))
              .outerjoin(cl, sa.and_(cl.c.unit_id == r.c.unit_id, cl.c.year == year)))
    counted_here = [r.c.simple == 1, r.c.opened_on <= date(year, 12, 31), r.c.eligible == 1]
    if kind == "province":
        counted_here.append(r.c.province_code == code)
    elif kind == "commune":
        counted_here.append(r.c.commune_code == code)
    registered, revoked = c.c.registered_on.is_not(None), c.c.revoked_on.is_not(None)
    keys = (r.c.province_code, r.c.commune_code, r.c.unit_type, registered, c.c.registered_late, c.c.recognised,
            c.c.decided_late, revoked, cl.c.level, cl.c.late)
    counted = []
    for row in conn.execute(sa.select(*keys, sa.func.count()).select_from(joined).where(*counted_here)
                            .group_by(*keys)):
        province, commune, unit_type, reg, reg_late, recognised, dec_late, rev, level, class_late, n = row
        figures = case_figures(bool(reg), bool(reg_late), None if recognised is None else bool(recognised),
                               bool(dec_late), bool(rev), level, bool(class_late)).times(int(n))
        counted.append(Counted(province, commune, unit_type, figures))
    # the units left to fold, and the counted units that may be awarded (recognised, not revoked, classified)
    award = sa.and_(*counted_here, registered, c.c.recognised.is_(True), c.c.revoked_on.is_(None),
                    cl.c.level.is_not(None))
    folded: list[str] = []
    award_rows = []
    for row in conn.execute(sa.select(r.c.unit_id, r.c.simple, r.c.renamed, r.c.code, r.c.name, r.c.unit_type,
                                      r.c.province_code, r.c.commune_code, cl.c.level)
                            .select_from(joined).where(sa.or_(r.c.simple == 0, award)).order_by(r.c.unit_id)):
        (award_rows if row.simple else folded).append(row.unit_id if not row.simple else row)
    renamed = {a.unit_id for a in award_rows if a.renamed}
    names = load(conn, kind, code, year, unit_ids=renamed).units if renamed else {}  # as the fold names them
    awarded = [{"unit_code": a.code, "name": names[a.unit_id].name if a.unit_id in names else a.name,
                "unit_type": a.unit_type, "province_code": a.province_code, "commune_code": a.commune_code,
                "level": a.level} for a in award_rows]
    named = {(lv, code) for g in counted for lv, code in (("province", g.province), ("commune", g.commune))}
    snapshot = load(conn, kind, code, year, unit_ids=folded, also_named=named)
    return ThenInputs(snapshot, counted, awarded)

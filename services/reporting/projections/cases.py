"""Read model: each unit's yearly ANTT case and movement classification, from assessment events.

Timeliness is the assessment's own `late` flag: it applied the deadline in force for the case's rule set.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from antt.events.v1 import assessment_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.projections.schema import (effective_or_recorded, insert_rows, iso_date, mark, metadata,
                                                   select_in)

cases = sa.Table(
    "reporting_cases", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("registered_on", sa.Date, nullable=True),
    sa.Column("registered_late", sa.Boolean, nullable=False, default=False),
    sa.Column("recognised", sa.Boolean, nullable=True),  # None: not decided
    sa.Column("decision_date", sa.Date, nullable=True),
    sa.Column("decided_late", sa.Boolean, nullable=False, default=False),
    sa.Column("revoked_on", sa.Date, nullable=True),
    sa.Column("closed_on", sa.Date, nullable=True),
)

classifications = sa.Table(
    "reporting_classifications", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("points", sa.Float, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=True),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("reclassifications", sa.Integer, nullable=False),
)


# Built once per table and executed with parameters (a statement built per event cost more than the SQL).
_UPDATES = {t.name: t.update().where(sa.and_(t.c.unit_id == sa.bindparam("target_unit_id"),
                                             t.c.year == sa.bindparam("target_year")))
            for t in (cases, classifications)}


def _upsert(conn: sa.Connection, table: sa.Table, p: Any, **values: Any) -> None:
    if any(isinstance(v, sa.ColumnElement) for v in values.values()):  # an expression (a counter): built here
        where = sa.and_(table.c.unit_id == p.unit_id, table.c.year == p.year)
        if not conn.execute(table.update().where(where).values(**values)).rowcount:
            conn.execute(table.insert().values(unit_id=p.unit_id, year=p.year, **values))
        return
    if not conn.execute(_UPDATES[table.name], {"target_unit_id": p.unit_id, "target_year": p.year, **values}).rowcount:
        conn.execute(table.insert(), {"unit_id": p.unit_id, "year": p.year, **values})


def apply(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Record a case or classification event (other assessment events are ignored)."""
    p = event.payload
    on = effective_or_recorded(getattr(p, "meta", None))
    if isinstance(p, events_pb.CaseRegistered):
        _upsert(conn, cases, p, registered_on=on, registered_late=p.late)
    elif isinstance(p, events_pb.CaseDecided):
        _upsert(conn, cases, p, recognised=p.recognised, decision_date=iso_date(p.decision_date) or on,
                decided_late=p.late, revoked_on=None)
    elif isinstance(p, events_pb.RecognitionRevoked):
        _upsert(conn, cases, p, revoked_on=iso_date(p.decision_date) or on)
    elif isinstance(p, events_pb.CaseClosed):
        _upsert(conn, cases, p, closed_on=on)
    elif isinstance(p, events_pb.ClassificationDecided):
        _upsert(conn, classifications, p, level=p.level, points=p.points,
                decided_on=iso_date(p.decision_date) or on, late=p.late, reclassifications=0)
    elif isinstance(p, events_pb.Reclassified):
        # A reclassification keeps the original decision's timeliness; it changes the level and points.
        _upsert(conn, classifications, p, level=p.level, points=p.points,
                reclassifications=classifications.c.reclassifications + 1)


class OrphanReclassificationError(LookupError):
    """A reclassification of a (unit, year) with no classification: the per-event path fails on it too."""


def _changes(p: Any) -> tuple[sa.Table, dict[str, Any]] | None:
    """The table an event changes and the values it sets (a reclassification's count is added on apply)."""
    on = effective_or_recorded(getattr(p, "meta", None))
    if isinstance(p, events_pb.CaseRegistered):
        return cases, dict(registered_on=on, registered_late=p.late)
    if isinstance(p, events_pb.CaseDecided):
        return cases, dict(recognised=p.recognised, decision_date=iso_date(p.decision_date) or on,
                           decided_late=p.late, revoked_on=None)
    if isinstance(p, events_pb.RecognitionRevoked):
        return cases, dict(revoked_on=iso_date(p.decision_date) or on)
    if isinstance(p, events_pb.CaseClosed):
        return cases, dict(closed_on=on)
    if isinstance(p, events_pb.ClassificationDecided):
        return classifications, dict(level=p.level, points=p.points, decided_on=iso_date(p.decision_date) or on,
                                     late=p.late, reclassifications=0)
    if isinstance(p, events_pb.Reclassified):
        return classifications, dict(level=p.level, points=p.points)
    return None


# A row first made by a case event: the columns it does not set take these (the table's defaults).
_NEW_CASE = dict(registered_on=None, registered_late=False, recognised=None, decision_date=None, decided_late=False,
                 revoked_on=None, closed_on=None)
_COLUMNS = {t.name: tuple(c.name for c in t.columns) for t in (cases, classifications)}


def _stored(conn: sa.Connection, table: sa.Table, keys: set[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The stored rows of these (unit, year) keys (read by unit: a unit has a row for a few years at most)."""
    columns = _COLUMNS[table.name]
    rows = {}
    for r in select_in(conn, table, columns, "unit_id", sorted({uid for uid, _ in keys})):
        key = (r[0], int(r[1]))
        if key in keys:
            rows[key] = dict(zip(columns, r))
    return rows


def apply_batch(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`apply` for a batch: each (unit, year) row read once, folded through the batch's events in order, and
    written back with one multi-row update and one multi-row insert per table (plain driver statements)."""
    changed: dict[str, dict[tuple[str, int], list[tuple[Any, dict[str, Any]]]]] = {cases.name: {},
                                                                                  classifications.name: {}}
    for event in events:
        found = _changes(event.payload)
        if found is not None:
            table, values = found
            changed[table.name].setdefault((event.payload.unit_id, int(event.payload.year)), []).append(
                (event.payload, values))
    for table in (cases, classifications):
        by_key = changed[table.name]
        if not by_key:
            continue
        rows = _stored(conn, table, set(by_key))
        known = set(rows)
        for key, steps in by_key.items():
            for p, values in steps:
                row = rows.get(key)
                if row is None:
                    if table is classifications and isinstance(p, events_pb.Reclassified):
                        raise OrphanReclassificationError(f"reclassified without a classification: {key}")
                    row = rows[key] = {"unit_id": key[0], "year": key[1], **(_NEW_CASE if table is cases else {})}
                row.update(values)
                if isinstance(p, events_pb.Reclassified):
                    row["reclassifications"] += 1
        columns = _COLUMNS[table.name]
        updates = [(*(rows[k][c] for c in columns[2:]), k[0], k[1]) for k in sorted(by_key) if k in known]
        if updates:
            m = mark(conn)
            conn.exec_driver_sql(f"UPDATE {table.name} SET {', '.join(f'{c} = {m}' for c in columns[2:])} "
                                 f"WHERE unit_id = {m} AND year = {m}", updates)
        insert_rows(conn, table, columns,
                    [tuple(rows[k][c] for c in columns) for k in sorted(by_key) if k not in known])

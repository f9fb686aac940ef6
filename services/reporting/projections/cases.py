"""Read model: each unit's yearly ANTT case and movement classification, from assessment events.

Timeliness is the assessment's own `late` flag: it applied the deadline in force for the case's rule set.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from antt.events.v1 import assessment_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.projections.schema import effective_or_recorded, iso_date, metadata

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

"""Read model: each unit's effective-dated history (registered, facts declared, renamed, moved, closed).

One row per unit event, so that applying an event is a single insert; the rollups fold a unit's rows in
version order into its life (type, opened, closed), its places and its eligibility.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from antt.events.v1 import registry_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.projections import lives
from services.reporting.projections.schema import effective_or_recorded, metadata

unit_history = sa.Table(
    "reporting_unit_history", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("change", sa.String(12), nullable=False),  # registered | facts | updated | moved | closed
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),  # "" unless registered or updated
    sa.Column("unit_type", sa.String(30), nullable=False),  # "" unless registered or facts
    sa.Column("province_code", sa.String(2), nullable=False, index=True),
    sa.Column("commune_code", sa.String(5), nullable=False, index=True),
    sa.Column("eligible", sa.Boolean, nullable=True),  # None unless registered or facts
)
_INSERT = unit_history.insert()


def _row(p: Any, change: str, **values: Any) -> dict[str, Any]:
    row = dict(unit_id=p.unit_id, version=int(p.meta.aggregate_version), change=change,
               effective_from=effective_or_recorded(p.meta), code=p.code, name="", unit_type="",
               province_code=p.province_code, commune_code=p.commune_code, eligible=None)
    row.update(values)
    return row


def _history_row(event: ReceivedEvent) -> dict[str, Any] | None:
    p = event.payload
    if isinstance(p, events_pb.UnitRegistered):
        row = _row(p, "registered", name=p.name, unit_type=p.unit_type, eligible=p.eligibility.eligible)
    elif isinstance(p, events_pb.UnitEligibilityFactsDeclared):
        row = _row(p, "facts", unit_type=p.unit_type, eligible=p.eligibility.eligible)
    elif isinstance(p, events_pb.UnitUpdated):
        row = _row(p, "updated", name=p.name)
    elif isinstance(p, events_pb.UnitMoved):
        row = _row(p, "moved")
    elif isinstance(p, events_pb.UnitClosed):
        row = _row(p, "closed")
    else:
        return None
    return row


def apply(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Record a unit event as one history row, and fold it into the unit's life."""
    row = _history_row(event)
    if row is not None:
        conn.execute(_INSERT, row)
        lives.apply_rows(conn, [row])


def apply_batch(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`apply` for a batch: the history rows in one multi-row insert (rows are independent of each other), and
    the lives they touch read and written once each."""
    rows = [row for row in map(_history_row, events) if row is not None]
    if rows:
        conn.execute(_INSERT, rows)
        lives.apply_rows(conn, rows)

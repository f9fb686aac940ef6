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
from services.reporting.projections.schema import effective_or_recorded, insert_rows, metadata

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
_HISTORY = {events_pb.UnitRegistered: "registered", events_pb.UnitEligibilityFactsDeclared: "facts",
            events_pb.UnitUpdated: "updated", events_pb.UnitMoved: "moved", events_pb.UnitClosed: "closed"}


def history_row(event: ReceivedEvent) -> tuple[Any, ...] | None:
    """The history row of a unit event (a tuple in `lives.HISTORY_COLUMNS` order), None for other events."""
    p = event.payload
    change = _HISTORY.get(type(p))
    if change is None:
        return None
    name = p.name if change in ("registered", "updated") else ""
    unit_type = p.unit_type if change in ("registered", "facts") else ""
    eligible = p.eligibility.eligible if change in ("registered", "facts") else None
    return (p.unit_id, int(p.meta.aggregate_version), change, effective_or_recorded(p.meta), p.code, name, unit_type,
            p.province_code, p.commune_code, eligible)


def apply(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Record a unit event as one history row, and fold it into the unit's life."""
    apply_batch(conn, [event])


def apply_batch(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`apply` for a batch: the history rows in one multi-row insert (rows are independent of each other), and
    the lives they touch read and written once each."""
    rows = [row for row in map(history_row, events) if row is not None]
    if rows:
        insert_rows(conn, unit_history, lives.HISTORY_COLUMNS, rows)
        lives.apply_rows(conn, rows)

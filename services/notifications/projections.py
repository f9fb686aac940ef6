"""Notifications' view of who can be reminded (skeleton: units known from the registry)."""

from __future__ import annotations

import sqlalchemy as sa

from antt.events.v1 import registry_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent

metadata = sa.MetaData()

recipients = sa.Table(
    "notifications_recipients", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("commune_code", sa.String(5), nullable=False, index=True),
)


def on_registry_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """A registered unit becomes a future reminder recipient."""
    if isinstance(event.payload, events_pb.UnitRegistered):
        conn.execute(recipients.insert().values(unit_id=event.payload.unit_id,
                                                commune_code=event.payload.commune_code))


def recipient_count(conn: sa.Connection) -> int:
    """How many units can be reminded."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(recipients)).scalar() or 0)

"""Assessment's local replica of registry units (it never reads the registry's database)."""

from __future__ import annotations

import sqlalchemy as sa

from antt.events.v1 import registry_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent

metadata = sa.MetaData()

unit_replica = sa.Table(
    "assessment_unit_replica", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit_type", sa.String(30), nullable=False),
    sa.Column("province_code", sa.String(2), nullable=False),
    sa.Column("commune_code", sa.String(5), nullable=False),
)


def on_registry_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Keep the replica in step with the registry's published events."""
    if isinstance(event.payload, events_pb.UnitRegistered):
        p = event.payload
        conn.execute(unit_replica.insert().values(
            unit_id=p.unit_id, code=p.code, name=p.name, unit_type=p.unit_type,
            province_code=p.province_code, commune_code=p.commune_code))

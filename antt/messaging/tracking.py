"""Tables of the exactly-once pipeline, kept in each service's own database."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per applied message: "position N from <source> was applied by <consumer>".
tracking = sa.Table(
    "antt_tracking", metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("source", sa.String(50), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
)

# The outbox relay's cursor: the last notification position whose publish was acknowledged.
relay_position = sa.Table(
    "antt_relay_position", metadata,
    sa.Column("service", sa.String(50), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)


def last_position(conn: sa.Connection, consumer: str, source: str) -> int:
    """Highest position from `source` applied by `consumer` (0 if none)."""
    q = sa.select(sa.func.max(tracking.c.position)).where(
        tracking.c.consumer == consumer, tracking.c.source == source)
    return int(conn.execute(q).scalar() or 0)

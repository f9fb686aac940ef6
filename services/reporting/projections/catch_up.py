"""The unit read models' secondary indexes, set aside while the registry consumer is far behind its stream.

A rebuild on an empty database writes the B-trees of about ten indexes per unit event under random UUID keys;
without the six secondary ones of `reporting_units`, `reporting_unit_history` and `reporting_unit_lives` it
measured ≈ 17% less CPU (S=1.0). They are dropped in the transaction of a batch that leaves at least
ANTT_REPORTING_DEFER_INDEXES messages pending, and built again in the transaction of the first batch that leaves
fewer than a tenth of that; queries meanwhile read the same rows, only slower. A crash rolls back with the batch,
and `restore` (at start) builds whatever a process stopped between the two left missing.
"""

from __future__ import annotations

import os

import sqlalchemy as sa

from antt.settings import env_value
from services.reporting.projections.lives import unit_lives
from services.reporting.projections.province_counts import units
from services.reporting.projections.units import unit_history

SETTING = "ANTT_REPORTING_DEFER_INDEXES"
DEFERRED = tuple(sorted((ix for t in (units, unit_history, unit_lives) for ix in t.indexes), key=lambda ix: ix.name))


def threshold() -> int:
    """Messages pending from which the indexes are set aside (0: never)."""
    return int(env_value(os.environ, SETTING))


def present(conn: sa.Connection) -> set[str]:
    """The names of the deferred indexes the store has now."""
    if conn.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    names = {ix.name for ix in DEFERRED}
    return {name for (name,) in conn.exec_driver_sql(sql)} & names


def restore(conn: sa.Connection) -> int:
    """Build every deferred index the store lacks: how many were built."""
    have = present(conn)
    missing = [ix for ix in DEFERRED if ix.name not in have]
    for ix in missing:
        conn.execute(sa.schema.CreateIndex(ix, if_not_exists=True))
    return len(missing)


def set_aside(conn: sa.Connection) -> int:
    """Drop every deferred index the store has: how many were dropped."""
    have = present(conn)
    for ix in DEFERRED:
        if ix.name in have:
            conn.execute(sa.schema.DropIndex(ix, if_exists=True))
    return len(have)


def catch_up(conn: sa.Connection, pending: int) -> None:
    """The registry consumer's `catch_up`: indexes aside while far behind, back when nearly caught up."""
    limit = threshold()
    if limit > 0 and pending >= limit:
        set_aside(conn)
    elif limit <= 0 or pending < limit // 10:
        restore(conn)

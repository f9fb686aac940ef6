"""The read models' data version: a counter every applied batch raises in its own transaction.

A computed report is a function of the read models, so reporting keeps it by this version
(`rollup/cache.py`). The counter row lives in the shared database and is raised in the
transaction that applies the events, so every replica reads the same version, and a version
read before a report is never newer than what that report saw.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from services.reporting.projections.schema import metadata

data_version = sa.Table(
    "reporting_data_version", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    info={"read_model": False},  # bookkeeping: a rebuild raises it differently, so checksums leave it out
)
# The one row is written with the table, in the same transaction, so a bump always finds it.
sa.event.listen(data_version, "after_create", sa.DDL("INSERT INTO reporting_data_version (id, version) VALUES (1, 0)"))


def bump(conn: sa.Connection) -> None:
    """Raise the version (in the transaction that changes the read models)."""
    raised = conn.exec_driver_sql("UPDATE reporting_data_version SET version = version + 1 WHERE id = 1").rowcount
    if not raised:
        # The row was removed by hand. Put it back far above any count it held, so a restarted counter
        # never meets a version a replica still keeps a report under.
        conn.execute(data_version.insert().values(id=1, version=time.time_ns() // 1000))


def current(conn: sa.Connection) -> int:
    """The version the read models are at."""
    return int(conn.execute(sa.select(data_version.c.version).where(data_version.c.id == 1)).scalar() or 0)

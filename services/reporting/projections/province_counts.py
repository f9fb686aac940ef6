"""Read model: units counted per province (the first read model; the pipeline tests read it)."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from antt.events.v1 import registry_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.projections.schema import insert_rows, metadata

# One row per unit seen, so a count can be checked against the units it came from.
units = sa.Table(
    "reporting_units", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("province_code", sa.String(2), nullable=False, index=True),
    sa.Column("commune_code", sa.String(5), nullable=False),
)

province_unit_counts = sa.Table(
    "reporting_province_unit_counts", metadata,
    sa.Column("province_code", sa.String(2), primary_key=True),
    sa.Column("units", sa.BigInteger, nullable=False),
)


_INSERT_UNIT = units.insert()
# Built once, executed with parameters (building a statement per event dominated the consumer's time).
_COUNT_ONE = (province_unit_counts.update()
              .where(province_unit_counts.c.province_code == sa.bindparam("target_province"))
              .values(units=province_unit_counts.c.units + 1))
_FIRST_COUNT = province_unit_counts.insert()
_COUNT_MANY = (province_unit_counts.update()
               .where(province_unit_counts.c.province_code == sa.bindparam("target_province"))
               .values(units=province_unit_counts.c.units + sa.bindparam("added", type_=sa.BigInteger)))
_COUNTED = (sa.select(province_unit_counts.c.province_code)
            .where(province_unit_counts.c.province_code.in_(sa.bindparam("provinces", expanding=True))))


def apply(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Count a registered unit in its province."""
    if not isinstance(event.payload, events_pb.UnitRegistered):
        return
    p = event.payload
    conn.execute(_INSERT_UNIT, {"unit_id": p.unit_id, "province_code": p.province_code,
                                "commune_code": p.commune_code})
    updated = conn.execute(_COUNT_ONE, {"target_province": p.province_code}).rowcount
    if not updated:
        conn.execute(_FIRST_COUNT, {"province_code": p.province_code, "units": 1})


def apply_batch(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`apply` for a batch: one multi-row insert of units and one counter change per province."""
    registered = [e.payload for e in events if isinstance(e.payload, events_pb.UnitRegistered)]
    if not registered:
        return
    insert_rows(conn, units, ("unit_id", "province_code", "commune_code"),
                [(p.unit_id, p.province_code, p.commune_code) for p in registered])
    added = Counter(p.province_code for p in registered)
    counted = set(conn.execute(_COUNTED, {"provinces": sorted(added)}).scalars())
    if counted:
        conn.execute(_COUNT_MANY, [{"target_province": c, "added": added[c]} for c in sorted(counted)])
    first = [{"province_code": c, "units": n} for c, n in sorted(added.items()) if c not in counted]
    if first:
        conn.execute(_FIRST_COUNT, first)


def unit_counts(conn: sa.Connection) -> list[tuple[str, int]]:
    """(province_code, units) ordered by code."""
    rows = conn.execute(sa.select(province_unit_counts).order_by(province_unit_counts.c.province_code))
    return [(r.province_code, int(r.units)) for r in rows]

"""Assessment's local replica of registry units (it never reads the registry's database).

Every registry unit event updates one row: registration (with the derived eligibility), new
eligibility facts, name and managing authority, moves and closure. Area events are not needed
here. The managing tier is derived from the managing authority code (see `managing_tier`).
"""

from __future__ import annotations

import logging
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.events.v1 import registry_pb2 as events_pb
from antt.eventstore.persistence import create_tables
from antt.messaging.consumer import ReceivedEvent
from antt.messaging.replica import Change, KeyedReplica

log = logging.getLogger(__name__)
metadata = sa.MetaData()

unit_replica = sa.Table(
    "assessment_unit_replica", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit_type", sa.String(30), nullable=False),
    sa.Column("province_code", sa.String(2), nullable=False),
    sa.Column("commune_code", sa.String(5), nullable=False, index=True),
    sa.Column("eligible", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("eligibility_reason", sa.String(80), nullable=False, server_default=""),
    sa.Column("eligibility_explanation_vi", sa.String(500), nullable=False, server_default=""),
    sa.Column("managing_authority", sa.String(50), nullable=False, server_default=""),
    sa.Column("closed_on", sa.String(10), nullable=True),
    sa.Column("closure_reason", sa.String(30), nullable=False, server_default=""),
    sa.Column("successor_code", sa.String(50), nullable=False, server_default=""),
    sa.Column("last_effective_date", sa.String(10), nullable=False, server_default=""),
    sa.Index("ix_assessment_unit_replica_province", "province_code", "code"),
)
ADDED_COLUMNS = ("eligible", "eligibility_reason", "eligibility_explanation_vi", "managing_authority", "closed_on",
                 "closure_reason", "successor_code", "last_effective_date")


def ensure_schema(engine: Engine) -> None:
    """Create the replica table, adding the columns an older replica lacks (its rows keep defaults)."""
    create_tables(engine, metadata)
    present = {c["name"] for c in sa.inspect(engine).get_columns(unit_replica.name)}
    missing = [name for name in ADDED_COLUMNS if name not in present]
    if not missing:
        return
    with engine.begin() as conn:
        for name in missing:
            column = unit_replica.c[name]
            ddl_type = column.type.compile(dialect=engine.dialect)
            clause = "" if column.nullable else (" NOT NULL DEFAULT TRUE" if name == "eligible"
                                                 else " NOT NULL DEFAULT ''")
            conn.execute(sa.text(f"ALTER TABLE {unit_replica.name} ADD COLUMN {name} {ddl_type}{clause}"))
        log.info("assessment replica: added columns %s", ", ".join(missing))


def _effective(p: object) -> str:
    meta = getattr(p, "meta", None)
    return meta.effective_date if meta is not None else ""


def _unknown(unit_id: str) -> None:
    # the registration was never seen (replica started late): nothing to update, and nothing invented
    log.warning("assessment replica: event for unknown unit %s ignored", unit_id)


def _change(p: object) -> Change | None:
    if isinstance(p, events_pb.UnitRegistered):
        return True, p.unit_id, dict(
            code=p.code, name=p.name, unit_type=p.unit_type, province_code=p.province_code,
            commune_code=p.commune_code, eligible=p.eligibility.eligible, eligibility_reason=p.eligibility.reason_code,
            eligibility_explanation_vi=p.eligibility.explanation_vi[:500], last_effective_date=_effective(p))
    if isinstance(p, events_pb.UnitEligibilityFactsDeclared):
        return False, p.unit_id, dict(
            eligible=p.eligibility.eligible, eligibility_reason=p.eligibility.reason_code,
            eligibility_explanation_vi=p.eligibility.explanation_vi[:500], last_effective_date=_effective(p))
    if isinstance(p, events_pb.UnitUpdated):
        return False, p.unit_id, dict(name=p.name, managing_authority=p.managing_authority)
    if isinstance(p, events_pb.UnitMoved):
        return False, p.unit_id, dict(province_code=p.province_code, commune_code=p.commune_code,
                                      last_effective_date=_effective(p))
    if isinstance(p, events_pb.UnitClosed):
        closed_on = _effective(p) or date.today().isoformat()
        return False, p.unit_id, dict(closed_on=closed_on, closure_reason=p.reason, successor_code=p.successor_code,
                                      last_effective_date=closed_on)
    return None


_REPLICA = KeyedReplica(unit_replica, "unit_id", dict(managing_authority="", closed_on=None, closure_reason="",
                                                     successor_code=""))


def on_registry_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Keep the replica in step with the registry's published unit events."""
    _REPLICA.apply(conn, [_change(event.payload)], _unknown)


def on_registry_events(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`on_registry_event` for a batch, written as multi-row statements (see `KeyedReplica`)."""
    _REPLICA.apply(conn, (_change(e.payload) for e in events), _unknown)

"""Notifications' read models from other services' events: a unit replica and satisfied obligations.

The replica holds every unit the registry published (place, type, eligibility, contacts, open or
closed); an event may arrive before the unit's UnitRegistered (replicas share a durable consumer),
so every unit event upserts what it carries; `notifications_satisfied` holds (unit, year, kind) facts from assessment events that end
a unit's obligations. Both are rebuilt identically from the streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.events.v1 import registry_pb2 as registry_pb
from antt.eventstore.persistence import create_indexes, create_tables
from antt.messaging.consumer import ReceivedEvent
from antt.messaging.replica import Change, KeyedReplica
from services.notifications.domain.schedule import UnitRef

metadata = sa.MetaData()

units = sa.Table(
    "notifications_units", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("unit_type", sa.String(32), nullable=False, server_default=""),  # "" until UnitRegistered arrives
    sa.Column("province_code", sa.String(5), nullable=False, index=True),
    sa.Column("commune_code", sa.String(5), nullable=False, index=True),
    sa.Column("eligible", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("managing_authority", sa.String(16), nullable=False, server_default=""),
    sa.Column("contact_email", sa.String(320), nullable=False, server_default=""),
    sa.Column("contact_webhook", sa.String(1000), nullable=False, server_default=""),
)
# The units a scan reads (`sweep._units_with_facts`), on SQLite: open and in scope (the query's WHERE is this very
# condition, so the partial index applies), in the scan's order, with every column the scan reads (covering: the
# query reads no table row and sorts nothing, ≈ 45% less SQL time). Not on PostgreSQL: an index entry there is
# capped at ≈ 2.7 kB (a 300-character name and a 1000-character webhook could exceed it), and an index in the
# scan's order alone, read with a row fetch each, was not measured against its sequential scan and sort.
SCANNED_UNITS = sa.and_(units.c.closed == sa.false(), units.c.eligible == sa.true())
sa.Index("ix_notifications_units_scan", units.c.province_code, units.c.commune_code, units.c.code, units.c.unit_id,
         units.c.name, units.c.unit_type, units.c.contact_email, units.c.contact_webhook,
         sqlite_where=SCANNED_UNITS).ddl_if(dialect="sqlite")

# A fact from assessment that ends obligations: kind "registration" | "decision" | "classification" |
# "report", or "*" when the unit's case of that year was closed (every obligation of the year ends).
satisfied = sa.Table(
    "notifications_satisfied", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), primary_key=True),
)


def ensure_schema(engine: Engine) -> None:
    """Create the read models' tables, and the indexes a database made by an earlier version lacks."""
    create_tables(engine, metadata)
    create_indexes(engine, *units.indexes)


# Which assessment event satisfies which kind of obligation.
ASSESSMENT_SATISFIES = {
    "CaseRegistered": "registration",         # TT124: the unit registered for the standard
    "SelfAssessmentRecorded": "report",       # INFERRED: the self-assessment is the unit's yearly results report
    "CaseDecided": "decision",
    "ClassificationDecided": "classification",
    "CaseClosed": "*",
}
ALL_KINDS = "*"


def _change(p: object) -> Change | None:
    if isinstance(p, registry_pb.UnitRegistered):
        return True, p.unit_id, dict(code=p.code, name=p.name, unit_type=p.unit_type, province_code=p.province_code,
                                     commune_code=p.commune_code,
                                     eligible=p.eligibility.eligible if p.HasField("eligibility") else True)
    if isinstance(p, registry_pb.UnitEligibilityFactsDeclared):
        return True, p.unit_id, dict(code=p.code, unit_type=p.unit_type, province_code=p.province_code,
                                     commune_code=p.commune_code, eligible=p.eligibility.eligible)
    if isinstance(p, registry_pb.UnitUpdated):
        return True, p.unit_id, dict(code=p.code, name=p.name, managing_authority=p.managing_authority,
                                     contact_email=p.contact_email, contact_webhook=p.contact_webhook,
                                     province_code=p.province_code, commune_code=p.commune_code)
    if isinstance(p, registry_pb.UnitMoved):
        return False, p.unit_id, dict(province_code=p.province_code, commune_code=p.commune_code)
    if isinstance(p, registry_pb.UnitClosed):
        return False, p.unit_id, dict(closed=True)
    return None


_REPLICA = KeyedReplica(units, "unit_id", dict(name="", unit_type="", eligible=True, closed=False,
                                               managing_authority="", contact_email="", contact_webhook=""))


def on_registry_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Keep the unit replica: registration, eligibility facts, contacts, moves and closure (a move or closure
    of a unit not seen yet changes nothing)."""
    _REPLICA.apply(conn, [_change(event.payload)])


def on_registry_events(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`on_registry_event` for a batch, written as multi-row statements (see `KeyedReplica`)."""
    _REPLICA.apply(conn, (_change(e.payload) for e in events))


def _fact(event: ReceivedEvent) -> tuple[str, int, str] | None:
    """The (unit_id, year, kind) fact an assessment event satisfies, if any."""
    kind = ASSESSMENT_SATISFIES.get(event.event_type)
    if kind is None:
        return None
    p = event.payload
    unit_id, year = getattr(p, "unit_id", ""), int(getattr(p, "year", 0))
    if not unit_id or not year:
        return None
    return unit_id, year, kind


def on_assessment_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Record what an assessment event satisfies (a unit's registration, decision, classification…)."""
    fact = _fact(event)
    if fact is None:
        return
    unit_id, year, kind = fact
    exists = conn.execute(sa.select(satisfied.c.unit_id).where(
        satisfied.c.unit_id == unit_id, satisfied.c.year == year, satisfied.c.kind == kind)).first()
    if exists is None:
        conn.execute(satisfied.insert().values(unit_id=unit_id, year=year, kind=kind))


# Built once and executed with parameters (building statements per batch costs SQLAlchemy cache-key time).
_FACTS_OF_UNITS = sa.select(satisfied.c.unit_id, satisfied.c.year, satisfied.c.kind).where(
    satisfied.c.unit_id.in_(sa.bindparam("units", expanding=True)))
_INSERT_FACT = satisfied.insert()


def on_assessment_events(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`on_assessment_event` for a batch: one SELECT of the batch's units' stored facts, one multi-row insert of
    the facts not stored yet (a fact repeated within the batch is inserted once)."""
    facts = dict.fromkeys(f for f in map(_fact, events) if f is not None)  # first-seen order, no repeats
    if not facts:
        return
    stored = {(r[0], int(r[1]), r[2])
              for r in conn.execute(_FACTS_OF_UNITS, {"units": sorted({f[0] for f in facts})})}
    new = [dict(unit_id=u, year=y, kind=k) for (u, y, k) in facts if (u, y, k) not in stored]
    if new:
        conn.execute(_INSERT_FACT, new)


@dataclass(frozen=True)
class UnitRow:
    """One unit of the replica."""

    unit_id: str
    code: str
    name: str
    unit_type: str
    province_code: str
    commune_code: str
    eligible: bool
    closed: bool
    contact_email: str
    contact_webhook: str

    def ref(self) -> UnitRef:
        """What the schedule needs to know about the unit."""
        return UnitRef(self.unit_id, self.unit_type, self.commune_code, self.province_code, not self.closed)


_new, _set = object.__new__, object.__setattr__


def open_unit_row(unit_id: str, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                  contact_email: str, contact_webhook: str) -> UnitRow:
    """`UnitRow(..., eligible=True, closed=False, ...)`: the same row, made without the frozen dataclass's
    `__init__` (its ten guarded `__setattr__` calls were the dearest part of reading a unit for a scan)."""
    row = _new(UnitRow)
    _set(row, "__dict__", {"unit_id": unit_id, "code": code, "name": name, "unit_type": unit_type,
                           "province_code": province_code, "commune_code": commune_code, "eligible": True,
                           "closed": False, "contact_email": contact_email, "contact_webhook": contact_webhook})
    return row


def iter_units(conn: sa.Connection, province_code: str = "", commune_code: str = "",
               open_only: bool = True) -> Iterator[UnitRow]:
    """Units of a jurisdiction ("" = all), open and in scope unless told otherwise, by code."""
    q = sa.select(units.c.unit_id, units.c.code, units.c.name, units.c.unit_type, units.c.province_code,
                  units.c.commune_code, units.c.eligible, units.c.closed, units.c.contact_email,
                  units.c.contact_webhook).order_by(units.c.code)
    if province_code:
        q = q.where(units.c.province_code == province_code)
    if commune_code:
        q = q.where(units.c.commune_code == commune_code)
    if open_only:
        q = q.where(units.c.closed == sa.false(), units.c.eligible == sa.true())
    for r in conn.execute(q):
        yield UnitRow(*r)


def satisfied_facts(conn: sa.Connection, years: tuple[int, ...]) -> set[tuple[str, int, str]]:
    """(unit_id, year, kind) facts of the given years."""
    rows = conn.execute(sa.select(satisfied.c.unit_id, satisfied.c.year, satisfied.c.kind)
                        .where(satisfied.c.year.in_(years)))
    return {(r[0], int(r[1]), r[2]) for r in rows}


def recipient_count(conn: sa.Connection) -> int:
    """How many units can be reminded (open and in scope)."""
    q = sa.select(sa.func.count()).select_from(units).where(units.c.closed == sa.false(),
                                                           units.c.eligible == sa.true())
    return int(conn.execute(q).scalar() or 0)

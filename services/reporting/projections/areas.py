"""Read model: administrative areas (names and parents by date) and where each ceased area went."""

from __future__ import annotations

import sqlalchemy as sa

from antt.events.v1 import registry_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.projections.schema import iso_date, metadata

areas = sa.Table(
    "reporting_areas", metadata,
    sa.Column("level", sa.String(10), primary_key=True),
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("established_on", sa.Date, nullable=True),  # None: from before the records
    sa.Column("abolished_on", sa.Date, nullable=True),
)

# Name and parent of an area from `effective_from` (None: from its creation before the records).
area_states = sa.Table(
    "reporting_area_states", metadata,
    sa.Column("level", sa.String(10), primary_key=True),
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("effective_from", sa.Date, nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parent_level", sa.String(10), nullable=False),
    sa.Column("parent_code", sa.String(20), nullable=False),
)

# The crosswalk: `code` (or part of it, whole=False) went to `target_code` on `effective_date`.
area_successions = sa.Table(
    "reporting_area_successions", metadata,
    sa.Column("level", sa.String(10), primary_key=True),
    sa.Column("code", sa.String(20), primary_key=True),
    sa.Column("target_code", sa.String(20), primary_key=True),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("whole", sa.Boolean, nullable=False),
)

_AREA_EVENTS = (events_pb.AreaCreated, events_pb.AreaRenamed, events_pb.AreaReparented, events_pb.AreaAbolished,
                events_pb.AreaMergedInto, events_pb.AreaSplitUp, events_pb.AreaAbsorbed)


# Built once and executed with parameters: a statement built per event (literal values) cost more
# than its SQL, and a replay applies every area event of the reference tree again.
_LATEST = (sa.select(area_states).where(area_states.c.level == sa.bindparam("target_level"),
                                        area_states.c.code == sa.bindparam("target_code"))
           .order_by(area_states.c.version.desc()).limit(1))
_INSERT_STATE = area_states.insert()
_INSERT_AREA = areas.insert()
_INSERT_SUCCESSION = area_successions.insert()
_END = (areas.update().where(areas.c.level == sa.bindparam("target_level"),
                             areas.c.code == sa.bindparam("target_code")))


def _latest(conn: sa.Connection, level: str, code: str) -> sa.Row[tuple[object, ...]] | None:
    return conn.execute(_LATEST, {"target_level": level, "target_code": code}).first()


def _state(conn: sa.Connection, p: object, **changes: str) -> None:
    level, code = p.level, p.code  # type: ignore[attr-defined]
    latest = _latest(conn, level, code)
    values = dict(name=latest.name if latest else "", parent_level=latest.parent_level if latest else "",
                  parent_code=latest.parent_code if latest else "")
    values.update(changes)
    conn.execute(_INSERT_STATE, dict(
        level=level, code=code, version=int(p.meta.aggregate_version),  # type: ignore[attr-defined]
        effective_from=iso_date(p.meta.effective_date), **values))  # type: ignore[attr-defined]


def _ended(conn: sa.Connection, level: str, code: str, on: object) -> None:
    conn.execute(_END, {"target_level": level, "target_code": code, "abolished_on": on})


def apply(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Record an area event: its state from the effective date, its end and its successors."""
    p = event.payload
    if not isinstance(p, _AREA_EVENTS):
        return
    on = iso_date(p.meta.effective_date)
    if isinstance(p, events_pb.AreaCreated):
        conn.execute(_INSERT_AREA, {"level": p.level, "code": p.code, "established_on": on, "abolished_on": None})
        _state(conn, p, name=p.name, parent_level=p.parent_level, parent_code=p.parent_code)
    elif isinstance(p, events_pb.AreaRenamed):
        _state(conn, p, name=p.name)
    elif isinstance(p, events_pb.AreaReparented):
        _state(conn, p, parent_level=p.parent_level, parent_code=p.parent_code)
    elif isinstance(p, events_pb.AreaAbolished):
        _ended(conn, p.level, p.code, on)
    elif isinstance(p, events_pb.AreaMergedInto):
        conn.execute(_INSERT_SUCCESSION, {"level": p.level, "code": p.code, "target_code": p.target_code,
                                          "effective_date": on, "whole": True})
        _ended(conn, p.level, p.code, on)
    elif isinstance(p, events_pb.AreaSplitUp):
        for target in p.target_codes:
            conn.execute(_INSERT_SUCCESSION, {"level": p.level, "code": p.code, "target_code": target,
                                              "effective_date": on, "whole": not p.continues})
        if not p.continues:
            _ended(conn, p.level, p.code, on)

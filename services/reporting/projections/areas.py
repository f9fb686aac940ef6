"""Read model: administrative areas (names and parents by date) and where each ceased area went."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from antt.events.v1 import registry_pb2 as events_pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.projections.schema import insert_rows, iso_date, metadata, select_in

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

_STATE_EVENTS = (events_pb.AreaCreated, events_pb.AreaRenamed, events_pb.AreaReparented)
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


_STATE_COLUMNS = ("level", "code", "version", "effective_from", "name", "parent_level", "parent_code")
_AREA_COLUMNS = ("level", "code", "established_on", "abolished_on")
_SUCCESSION_COLUMNS = ("level", "code", "target_code", "effective_date", "whole")


def _latest_states(conn: sa.Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The stored state of highest version of each (level, code): (version, name, parent_level, parent_code)."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    columns = ("level", "code", "version", "name", "parent_level", "parent_code")
    for level, code, version, *rest in select_in(conn, area_states, columns, "code", sorted({c for _, c in keys})):
        key = (level, code)
        if key in keys and (key not in latest or version > latest[key][0]):
            latest[key] = (version, *rest)
    return latest


def apply_batch(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`apply` for a batch: the latest states read once, the rows written with one statement per table.

    In event order, as `apply` would: a state carries on from the state of highest version so far (stored or
    earlier in the batch); an area created in the batch is written with its end if the batch ends it, and an end
    of an area not created (yet) in the batch updates the stored row, before the batch's areas are inserted.
    """
    found = [e.payload for e in events if isinstance(e.payload, _AREA_EVENTS)]
    if not found:
        return
    latest = _latest_states(conn, {(p.level, p.code) for p in found if isinstance(p, _STATE_EVENTS)})
    states: list[tuple[Any, ...]] = []
    created: dict[tuple[str, str], list[Any]] = {}
    new_areas: list[list[Any]] = []
    ends: list[dict[str, Any]] = []
    successions: list[tuple[Any, ...]] = []

    def state(p: Any, **changes: str) -> None:
        key, version = (p.level, p.code), int(p.meta.aggregate_version)
        before = latest.get(key)
        name, parent_level, parent_code = before[1:] if before else ("", "", "")
        name = changes.get("name", name)
        parent_level = changes.get("parent_level", parent_level)
        parent_code = changes.get("parent_code", parent_code)
        states.append((p.level, p.code, version, iso_date(p.meta.effective_date), name, parent_level, parent_code))
        if before is None or version > before[0]:
            latest[key] = (version, name, parent_level, parent_code)

    def end(p: Any, on: object) -> None:
        row = created.get((p.level, p.code))
        if row is not None:
            row[3] = on
        else:
            ends.append({"target_level": p.level, "target_code": p.code, "abolished_on": on})

    for p in found:
        on = iso_date(p.meta.effective_date)
        if isinstance(p, events_pb.AreaCreated):
            row = created[(p.level, p.code)] = [p.level, p.code, on, None]
            new_areas.append(row)  # a second creation of an area fails on its key when inserted, as in `apply`
            state(p, name=p.name, parent_level=p.parent_level, parent_code=p.parent_code)
        elif isinstance(p, events_pb.AreaRenamed):
            state(p, name=p.name)
        elif isinstance(p, events_pb.AreaReparented):
            state(p, parent_level=p.parent_level, parent_code=p.parent_code)
        elif isinstance(p, events_pb.AreaAbolished):
            end(p, on)
        elif isinstance(p, events_pb.AreaMergedInto):
            successions.append((p.level, p.code, p.target_code, on, True))
            end(p, on)
        elif isinstance(p, events_pb.AreaSplitUp):
            successions.extend((p.level, p.code, target, on, not p.continues) for target in p.target_codes)
            if not p.continues:
                end(p, on)
    if ends:
        conn.execute(_END, ends)
    insert_rows(conn, areas, _AREA_COLUMNS, [tuple(row) for row in new_areas])
    insert_rows(conn, area_states, _STATE_COLUMNS, states)
    insert_rows(conn, area_successions, _SUCCESSION_COLUMNS, successions)

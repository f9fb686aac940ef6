"""Audit replay: rebuild the read models from the JetStream streams into a scratch store.

"As recorded up to T" keeps only the events recorded (ce-time) at or before T: what the live report
showed then. Without T the replay is "as effective": every later correction included. The same
machinery rebuilds the live store (drop and rebuild) and checks it for gaps.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa
from google.protobuf.message import DecodeError
from sqlalchemy.engine import Engine

from antt.contracts import subjects
from antt.contracts.envelope import EnvelopeError
from antt.contracts.subjects import SubjectError
from antt.contracts.types import UnknownEventTypeError
from antt.errors import InvalidArgumentError
from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import (ConsumerSpec, Delivery, ReceivedEvent, decode, insert_tracking, read_filtered,
                                     stream_position)
from antt.messaging.consumer import read_stream as read_stream_messages
from antt.messaging.streams import stream_name
from antt.messaging.tracking import metadata as tracking_metadata
from antt.messaging.tracking import tracking
from services.reporting import projections, queries
from services.reporting.consumers import CONSUMERS
from services.reporting.rollup.report import Report, Scope

log = logging.getLogger(__name__)


def parse_as_of(value: str) -> datetime | None:
    """An RFC 3339 time with its offset ("" means no limit)."""
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise InvalidArgumentError(f"Thời điểm không hợp lệ: {value!r} (RFC 3339, có múi giờ)",
                                   f"invalid time {value!r} (RFC 3339 with an offset)", field="as_of")
    return t


async def read_stream(nc: Any, source: str) -> list[ReceivedEvent]:
    """Every event of a source's stream from the start (read without acks)."""
    last = (await nc.jetstream().stream_info(stream_name(source))).state.last_seq
    return await _read(nc, source, [f"{subjects.PREFIX}.{source}.v1.>"], None, last)


async def read_streams(nats_url: str) -> dict[str, list[ReceivedEvent]]:
    """The events of every source reporting consumes."""
    nc = await nats.connect(nats_url.split(","))
    try:
        return {spec.source: await read_stream(nc, spec.source) for spec in CONSUMERS}
    finally:
        await nc.close()


def recorded_by(event: ReceivedEvent, as_of: datetime | None) -> bool:
    """Whether an event was recorded at or before `as_of` (always, without a limit)."""
    return as_of is None or datetime.fromisoformat(event.envelope.time) <= as_of


def apply_events(conn: sa.Connection, spec: ConsumerSpec, events: list[ReceivedEvent]) -> int:
    """Apply events through a consumer's projection with its tracking rows (duplicates skipped)."""
    seen = {r.position for r in conn.execute(sa.select(tracking.c.position).where(
        tracking.c.consumer == spec.name, tracking.c.source == spec.source))}
    applied = 0
    for event in events:
        if event.envelope.position in seen:
            continue
        seen.add(event.envelope.position)
        conn.execute(tracking.insert().values(consumer=spec.name, source=spec.source,
                                              position=event.envelope.position))
        spec.projection(conn, event)
        applied += 1
    return applied


def build_store(streams: dict[str, list[ReceivedEvent]], as_of: datetime | None = None,
                url: str = "", memory: bool = False) -> Engine:
    """A scratch store (a new SQLite file, or in memory, unless `url` is given) with the read models of events
    recorded by `as_of`."""
    if url:
        engine = create_engine(url)
    elif memory:
        engine = scratch_engine()
    else:
        engine = create_engine(f"sqlite:///{Path(tempfile.mkdtemp(prefix='antt-replay-')) / 'scratch.db'}")
    tracking_metadata.create_all(engine, tables=[tracking])
    projections.metadata.create_all(engine)
    with engine.begin() as conn:
        for spec in CONSUMERS:
            apply_events(conn, spec, [e for e in streams.get(spec.source, []) if recorded_by(e, as_of)])
    return engine


def scratch_engine() -> Engine:
    """An in-memory SQLite database on one connection shared by every thread: a scoped replay's store lives and
    dies with the replay, so it needs no file, journal or lock."""
    return sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})


def discard(engine: Engine) -> None:
    """Dispose of a scratch store made by build_store and delete its directory (an in-memory one just goes)."""
    database = engine.url.database or ""
    engine.dispose()
    if database and Path(database).parent.name.startswith("antt-replay-"):
        shutil.rmtree(Path(database).parent, ignore_errors=True)


@dataclass
class Replay:
    """A replayed report and its digest."""

    report: Report
    digest: str
    events: dict[str, int]


# Area events are few (the reference tree) and every scope needs them: names, parents, the crosswalk.
AREA_EVENTS = ("AreaCreated", "AreaRenamed", "AreaReparented", "AreaAbolished", "AreaMergedInto", "AreaSplitUp",
               "AreaAbsorbed")


def _decoded(source: str, msgs: list[Delivery], as_of: datetime | None) -> list[ReceivedEvent]:
    """The events of delivered messages recorded by `as_of`; a message this version cannot read is skipped."""
    return [e for _, e in _decoded_with(source, msgs, as_of)]


async def _read(nc: Any, source: str, filters: list[str], as_of: datetime | None,
                last: int) -> list[ReceivedEvent]:
    """The events of a source on any of `filters` (disjoint), up to sequence `last`, in stream order.

    Each pulled batch is decoded as it arrives (`read_filtered` would hold every delivery until the last): the
    decoding then runs while nats-server still scans the stream for the next batches, on the other core.
    """
    async def one(subject: str) -> tuple[list[Delivery], list[ReceivedEvent]]:
        msgs: list[Delivery] = []
        events: list[ReceivedEvent] = []
        async for batch in read_stream_messages(nc, stream_name(source), [subject], last):
            kept = _decoded_with(source, batch, as_of)
            msgs.extend(m for m, _ in kept)
            events.extend(e for _, e in kept)
        return msgs, events

    parts = [p for p in await asyncio.gather(*(one(f) for f in filters)) if p[1]]
    if len(parts) <= 1:
        return parts[0][1] if parts else []
    # one read per filter (see read_filtered: one consumer per filter scans faster), merged by stream sequence
    keyed = sorted((stream_position(m)[0], e) for msgs, events in parts for m, e in zip(msgs, events, strict=True))
    return [e for _, e in keyed]


def _decoded_with(source: str, msgs: list[Delivery], as_of: datetime | None) -> list[tuple[Delivery, ReceivedEvent]]:
    """_decoded, each event with its delivery."""
    out: list[tuple[Delivery, ReceivedEvent]] = []
    for msg in msgs:
        try:
            event = decode(msg)
        except (EnvelopeError, SubjectError, UnknownEventTypeError, DecodeError):
            log.warning("replay: %s message %d is not an event this version reads; skipped", source,
                        stream_position(msg)[0])
            continue
        if recorded_by(event, as_of):
            out.append((msg, event))
    return out


async def _read_reference(nc: Any, source: str, filters: list[str], as_of: datetime | None,
                          last: int) -> list[ReceivedEvent]:
    """`_read` the plain way: every delivery first, then decoded (the reference of the tests)."""
    return _decoded(source, await read_filtered(nc, stream_name(source), filters, last), as_of)


def provinces_needed(scope: Scope, area_events: list[ReceivedEvent],
                     moves: list[ReceivedEvent]) -> set[str] | None:
    """The provinces whose unit events a province or commune report can depend on (None: all of them).

    A unit counts where it was (boundary "then") or where its commune went (boundary "today"), so the
    scope's province is closed over unit moves (both ends), area successions and reparentings (both
    sides' provinces); a unit outside these provinces never had a place that maps into the scope.
    A link to an area whose province is unknown (a commune under a district) widens the read to all.
    """
    parents: dict[str, set[str]] = collections.defaultdict(set)  # commune -> provinces it belonged to
    links: list[tuple[set[str], set[str]]] = []
    for e in area_events:
        p = e.payload
        if p.level == "commune" and getattr(p, "parent_level", "") == "province" and p.parent_code:
            parents[p.code].add(p.parent_code)
    # provinces of a commune: its parents over time and the province token of its events' subjects
    for e in area_events:
        province, _ = subjects.area_codes(e.subject)
        if e.payload.level == "commune" and province:
            parents[e.payload.code].add(province)

    def of(level: str, code: str) -> set[str]:
        return {code} if level == "province" else set(parents.get(code, ()))

    for e in area_events:
        p = e.payload
        if e.event_type == "AreaMergedInto":
            others = [p.target_code]
        elif e.event_type in ("AreaSplitUp", "AreaAbsorbed"):
            others = list(p.target_codes if e.event_type == "AreaSplitUp" else p.source_codes)
        else:
            others = []
        for other in others:
            links.append((of(p.level, p.code), of(p.level, other)))
        if p.level == "commune":
            links.append((of(p.level, p.code), of(p.level, p.code)))
    for e in moves:
        p = e.payload
        links.append(({p.from_province_code} - {""}, {p.province_code} - {""}))
    needed = {scope.code} if scope.kind == "province" else set(parents.get(scope.code, ()))
    if not needed:
        return None
    changed = True
    while changed:
        changed = False
        for a, b in links:
            if (a & needed or b & needed) and not (a and b):
                return None
            if (a & needed or b & needed) and not (a | b) <= needed:
                needed |= a | b
                changed = True
    return needed


async def _read_provinces(nc: Any, provinces: set[str], as_of: datetime | None,
                          last: dict[str, int]) -> dict[str, list[ReceivedEvent]]:
    """Every source's events of `provinces` (and, with "_", the no-area ones), each source in stream order."""
    reads = [_read(nc, source, [subjects.filter_for(source, "*", p) for p in sorted(provinces)], as_of, n)
             for source, n in last.items()]
    return dict(zip(last, await asyncio.gather(*reads), strict=True))


async def scoped_events(nc: Any, scope: Scope, as_of: datetime | None,
                        last: dict[str, int]) -> dict[str, list[ReceivedEvent]] | None:
    """The events a province or commune report needs, recorded by `as_of`: the area events, and the events
    of the provinces it depends on (with the no-area ones); None when it needs every event."""
    if scope.kind == "national":
        return None
    # events with no area ("_") are national facts (and the national/district areas): always read. A province
    # usually depends on itself alone: its events are read while the area events say whether it does.
    guess = {scope.code, subjects.NO_AREA} if scope.kind == "province" else set()
    early = asyncio.ensure_future(_read_provinces(nc, guess, as_of, last)) if guess else None
    try:
        found = await _read(nc, "registry", [subjects.filter_for("registry", t) for t in (*AREA_EVENTS, "UnitMoved")],
                            as_of, last["registry"])
        moves = [e for e in found if e.event_type == "UnitMoved"]
        needed = provinces_needed(scope, [e for e in found if e.event_type != "UnitMoved"], moves)
        if needed is None:
            return None
        out = await early if early is not None else {source: [] for source in last}
    finally:
        if early is not None and not early.done():
            early.cancel()
            with contextlib.suppress(BaseException):
                await early
    more = ({*needed, subjects.NO_AREA} - guess)
    if more:  # provinces linked by moves or area successions: their events too, merged in stream order
        extra = await _read_provinces(nc, more, as_of, last)
        out = {source: sorted(out[source] + extra[source], key=lambda e: e.envelope.position) for source in last}
    # The area events applied are those read with the provinces (and the no-area ones): an area of another
    # province never names, contains or succeeds a place of the scope, or provinces_needed would have
    # taken that province in (the whole reference tree was ≈ 3,400 area events applied one by one).
    return out


async def _stream_all(nc: Any, engine: Engine, as_of: datetime | None, last: dict[str, int]) -> dict[str, int]:
    """Apply every event recorded by `as_of` into the scratch store as it arrives (a pull batch per transaction)."""
    counts: dict[str, int] = {}
    for spec in CONSUMERS:
        seen: set[int] = set()
        counts[spec.source] = 0
        async for msgs in read_stream_messages(nc, stream_name(spec.source), [f"{subjects.PREFIX}.{spec.source}.v1.>"],
                                               last[spec.source]):
            counts[spec.source] += _apply_chunk(engine, spec, _decoded(spec.source, msgs, as_of), seen)
    return counts


def _apply_chunk(engine: Engine, spec: ConsumerSpec, events: list[ReceivedEvent], seen: set[int],
                 track: bool = True) -> int:
    """Apply events not applied yet (by position) through a consumer's projection, with their tracking rows
    unless `track` is off (a scoped replay's in-memory store: nothing reads them, `seen` does their work)."""
    fresh = []
    for e in events:
        if e.envelope.position not in seen:
            seen.add(e.envelope.position)
            fresh.append(e)
    if not fresh:
        return 0
    with engine.begin() as conn:
        if track:
            insert_tracking(conn, [(spec.name, spec.source, e.envelope.position) for e in fresh])
        if spec.batch_projection is not None:  # the consumer's own fast path: the same read model
            spec.batch_projection(conn, fresh)
        else:
            for event in fresh:
                spec.projection(conn, event)
    return len(fresh)


@contextlib.contextmanager
def indexes_deferred(engine: Engine) -> Iterator[None]:
    """Drop the read models' secondary indexes of a freshly built store, and build them again at the end.

    Building an index once over the loaded rows costs less than keeping it up to date row by row (≈ 5% of a
    scoped replay's apply); the primary keys stay, and the report's queries run with every index back.
    """
    indexes = [index for table in projections.metadata.sorted_tables for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    yield
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)


_pauses = 0  # replays under way that paused the collector (they may overlap on the event loop)
_resume = False  # whether the collector was on when the first of them paused it


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a replay holds its messages and events (re-entrant).

    A scoped replay keeps tens of thousands of deliveries and decoded events alive at once; each of the
    collector's passes walks them all again, which measured ≈ a quarter of the replay's CPU. Refcounting
    still frees them (they hold no cycles); the collector resumes within the replay's seconds.
    """
    global _pauses, _resume
    if _pauses == 0:
        _resume = gc.isenabled()
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _resume:
            gc.enable()


async def replay(nats_url: str, year: int, scope: str, as_of: str = "", boundary: str = "then",
                 today: date | None = None, target_files: list[dict[str, Any]] | None = None) -> Replay:
    """Rebuild from the streams (as recorded up to `as_of`, or as effective) and compute the report.

    A province or commune reads only the events it depends on (see provinces_needed), filtered by subject
    on the server; a national report streams every event into the scratch store without holding them.
    """
    limit = parse_as_of(as_of)
    parsed = Scope.parse(scope)
    # A national replay streams batch by batch and holds little: the collector stays on for it.
    with collector_paused() if parsed.kind != "national" else contextlib.nullcontext():
        return await _replay(nats_url, year, parsed, scope, limit, boundary, today, target_files)


async def _replay(nats_url: str, year: int, parsed: Scope, scope: str, limit: datetime | None, boundary: str,
                  today: date | None, target_files: list[dict[str, Any]] | None) -> Replay:
    engine: Engine | None = None
    try:
        nc = await nats.connect(nats_url.split(","))
        try:
            js = nc.jetstream()
            last = {s.source: (await js.stream_info(stream_name(s.source))).state.last_seq for s in CONSUMERS}
            streams = await scoped_events(nc, parsed, limit, last)
            # A scope's read models fit in memory; the whole country's go to a file (peak RSS).
            engine = build_store({}, memory=streams is not None)
            if streams is None:
                counts = await _stream_all(nc, engine, limit, last)
            else:
                with indexes_deferred(engine):
                    counts = {spec.source: _apply_chunk(engine, spec, streams.get(spec.source, []), set(), track=False)
                              for spec in CONSUMERS}
                del streams
        finally:
            await nc.close()
        day = today or (limit.date() if limit is not None else None)
        with engine.connect() as conn:
            report = queries.report(conn, year, scope, boundary, day, target_files)
    finally:
        if engine is not None:
            discard(engine)
    return Replay(report, report.digest(), counts)


def checksum(engine: Engine) -> str:
    """SHA-256 over every read-model row, table by table in a canonical order (tracking excluded)."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        tables = projections.read_model_tables()
        for name in sorted(tables):
            table = tables[name]
            rows = [[_plain(v) for v in r] for r in conn.execute(sa.select(table))]
            h.update(json.dumps([name, sorted(rows, key=json.dumps)], ensure_ascii=False).encode())
    return h.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return value
    return value if isinstance(value, (int, float)) else str(value)


async def rebuild(engine: Engine, nats_url: str) -> dict[str, int]:
    """Drop the read models and the consumers' tracking rows, and rebuild them from the streams (one transaction)."""
    streams = await read_streams(nats_url)
    tracking_metadata.create_all(engine, tables=[tracking])
    with engine.begin() as conn:
        projections.metadata.drop_all(conn)
        projections.metadata.create_all(conn)
        conn.execute(tracking.delete().where(tracking.c.consumer.in_([s.name for s in CONSUMERS])))
        return {spec.source: apply_events(conn, spec, streams.get(spec.source, [])) for spec in CONSUMERS}

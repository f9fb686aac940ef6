"""Audit replay: rebuild the read models from the JetStream streams into a scratch store.

"As recorded up to T" keeps only the events recorded (ce-time) at or before T: what the live report
showed then. Without T the replay is "as effective": every later correction included. The same
machinery rebuilds the live store (drop and rebuild) and checks it for gaps.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa
from google.protobuf.message import DecodeError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.engine import Engine

from antt.contracts import subjects
from antt.contracts.envelope import EnvelopeError
from antt.contracts.subjects import SubjectError
from antt.contracts.types import UnknownEventTypeError
from antt.errors import InvalidArgumentError
from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import ConsumerSpec, ReceivedEvent, decode
from antt.messaging.streams import stream_name
from antt.messaging.tracking import metadata as tracking_metadata
from antt.messaging.tracking import tracking
from services.reporting import projections, queries
from services.reporting.consumers import CONSUMERS
from services.reporting.rollup.report import Report, Scope

FETCH = 500
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
    """Every event of a source's stream from the start, through an ephemeral consumer that never acks."""
    js = nc.jetstream()
    last = (await js.stream_info(stream_name(source))).state.last_seq
    events: list[ReceivedEvent] = []
    if last == 0:
        return events
    sub = await js.pull_subscribe(f"{subjects.PREFIX}.{source}.v1.>", stream=stream_name(source),
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL))
    try:
        seq = 0
        while seq < last:
            try:
                msgs = await sub.fetch(FETCH, timeout=2)
            except (nats.errors.TimeoutError, TimeoutError):
                break  # the tail was deleted or filtered out: nothing more to read
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                try:
                    events.append(decode(msg))
                except (EnvelopeError, SubjectError, UnknownEventTypeError, DecodeError):
                    log.warning("replay: %s message %d is not an event this version reads; skipped", source, seq)
    finally:
        await sub.unsubscribe()
    return events


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
                url: str = "") -> Engine:
    """A scratch store (a new SQLite file unless `url` is given) with the read models of events recorded by `as_of`."""
    engine = create_engine(url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='antt-replay-')) / 'scratch.db'}")
    tracking_metadata.create_all(engine, tables=[tracking])
    projections.metadata.create_all(engine)
    with engine.begin() as conn:
        for spec in CONSUMERS:
            apply_events(conn, spec, [e for e in streams.get(spec.source, []) if recorded_by(e, as_of)])
    return engine


def discard(engine: Engine) -> None:
    """Dispose of a scratch store made by build_store and delete its directory."""
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


async def _stream(js: Any, source: str, subject: str, last: int,
                  as_of: datetime | None) -> AsyncIterator[tuple[int, ReceivedEvent]]:
    """(sequence, event) for the events on `subject` up to sequence `last` recorded by `as_of`, as they arrive."""
    sub = await js.pull_subscribe(subject, stream=stream_name(source),
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL))
    try:
        # The consumer's pending count says when the filtered subject is drained (no waiting for a timeout).
        pending = (await sub.consumer_info()).num_pending
        seq = 0
        while pending > 0 and seq < last:
            try:
                msgs = await sub.fetch(min(FETCH, pending), timeout=2)
            except (nats.errors.TimeoutError, TimeoutError):
                break  # the tail was deleted: nothing more to read
            for msg in msgs:
                pending = msg.metadata.num_pending
                seq = msg.metadata.sequence.stream
                if seq > last:
                    break  # published after the replay started: not part of it
                try:
                    event = decode(msg)
                except (EnvelopeError, SubjectError, UnknownEventTypeError, DecodeError):
                    log.warning("replay: %s message %d is not an event this version reads; skipped", source, seq)
                    continue
                if recorded_by(event, as_of):
                    yield seq, event
    finally:
        await sub.unsubscribe()


async def _read(js: Any, source: str, filters: list[str], as_of: datetime | None,
                last: int) -> list[ReceivedEvent]:
    """The events of a source on any of `filters` (disjoint), in stream order."""
    found: list[tuple[int, ReceivedEvent]] = []
    for subject in filters:  # nats-server 2.9 has one filter per consumer
        found.extend([item async for item in _stream(js, source, subject, last, as_of)])
    found.sort(key=lambda item: item[0])
    return [e for _, e in found]


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


async def scoped_events(js: Any, scope: Scope, as_of: datetime | None,
                        last: dict[str, int]) -> dict[str, list[ReceivedEvent]] | None:
    """The events a province or commune report needs, recorded by `as_of`: the area events, and the events
    of the provinces it depends on (with the no-area ones); None when it needs every event."""
    if scope.kind == "national":
        return None
    areas = await _read(js, "registry", [subjects.filter_for("registry", t) for t in AREA_EVENTS], as_of,
                        last["registry"])
    moves = await _read(js, "registry", [subjects.filter_for("registry", "UnitMoved")], as_of, last["registry"])
    needed = provinces_needed(scope, areas, moves)
    if needed is None:
        return None
    out: dict[str, list[ReceivedEvent]] = {}
    for source, n in last.items():
        # events with no area ("_") are national facts (and the national/district areas): always read
        filters = [subjects.filter_for(source, "*", p) for p in [*sorted(needed), subjects.NO_AREA]]
        out[source] = await _read(js, source, filters, as_of, n)
    # every area event once, in stream order (the needed provinces' own area events were read twice)
    merged = {e.envelope.position: e for e in areas + out["registry"]}
    out["registry"] = [merged[k] for k in sorted(merged)]
    return out


async def _stream_all(js: Any, engine: Engine, as_of: datetime | None, last: dict[str, int]) -> dict[str, int]:
    """Apply every event recorded by `as_of` into the scratch store as it arrives (a chunk per transaction)."""
    counts: dict[str, int] = {}
    for spec in CONSUMERS:
        chunk: list[ReceivedEvent] = []
        seen: set[int] = set()
        counts[spec.source] = 0
        async for _, event in _stream(js, spec.source, f"{subjects.PREFIX}.{spec.source}.v1.>", last[spec.source],
                                      as_of):
            chunk.append(event)
            if len(chunk) >= FETCH:
                counts[spec.source] += _apply_chunk(engine, spec, chunk, seen)
                chunk = []
        counts[spec.source] += _apply_chunk(engine, spec, chunk, seen)
    return counts


def _apply_chunk(engine: Engine, spec: ConsumerSpec, events: list[ReceivedEvent], seen: set[int]) -> int:
    """Apply events not applied yet (by position) through a consumer's projection, with their tracking rows."""
    fresh = []
    for e in events:
        if e.envelope.position not in seen:
            seen.add(e.envelope.position)
            fresh.append(e)
    if not fresh:
        return 0
    with engine.begin() as conn:
        conn.execute(tracking.insert(), [{"consumer": spec.name, "source": spec.source,
                                          "position": e.envelope.position} for e in fresh])
        if spec.batch_projection is not None:  # the consumer's own fast path: the same read model
            spec.batch_projection(conn, fresh)
        else:
            for event in fresh:
                spec.projection(conn, event)
    return len(fresh)


async def replay(nats_url: str, year: int, scope: str, as_of: str = "", boundary: str = "then",
                 today: date | None = None, target_files: list[dict[str, Any]] | None = None) -> Replay:
    """Rebuild from the streams (as recorded up to `as_of`, or as effective) and compute the report.

    A province or commune reads only the events it depends on (see provinces_needed), filtered by subject
    on the server; a national report streams every event into the scratch store without holding them.
    """
    limit = parse_as_of(as_of)
    parsed = Scope.parse(scope)
    engine = build_store({})
    try:
        nc = await nats.connect(nats_url.split(","))
        try:
            js = nc.jetstream()
            last = {s.source: (await js.stream_info(stream_name(s.source))).state.last_seq for s in CONSUMERS}
            streams = await scoped_events(js, parsed, limit, last)
            if streams is None:
                counts = await _stream_all(js, engine, limit, last)
            else:
                counts = {spec.source: _apply_chunk(engine, spec, streams.get(spec.source, []), set())
                          for spec in CONSUMERS}
                del streams
        finally:
            await nc.close()
        day = today or (limit.date() if limit is not None else None)
        with engine.connect() as conn:
            report = queries.report(conn, year, scope, boundary, day, target_files)
    finally:
        discard(engine)
    return Replay(report, report.digest(), counts)


def checksum(engine: Engine) -> str:
    """SHA-256 over every read-model row, table by table in a canonical order (tracking excluded)."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        for name in sorted(projections.metadata.tables):
            table = projections.metadata.tables[name]
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

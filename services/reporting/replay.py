"""Audit replay: rebuild the read models from the JetStream streams into a scratch store.

"As recorded up to T" keeps only the events recorded (ce-time) at or before T: what the live report
showed then. Without T the replay is "as effective": every later correction included. The same
machinery rebuilds the live store (drop and rebuild) and checks it for gaps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
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
from services.reporting.rollup.report import Report

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


async def replay(nats_url: str, year: int, scope: str, as_of: str = "", boundary: str = "then",
                 today: date | None = None, target_files: list[dict[str, Any]] | None = None) -> Replay:
    """Rebuild from the streams (as recorded up to `as_of`, or as effective) and compute the report."""
    limit = parse_as_of(as_of)
    streams = await read_streams(nats_url)
    engine = build_store(streams, limit)
    try:
        day = today or (limit.date() if limit is not None else None)
        with engine.connect() as conn:
            report = queries.report(conn, year, scope, boundary, day, target_files)
    finally:
        discard(engine)
    counts = {s: sum(1 for e in evs if recorded_by(e, limit)) for s, evs in streams.items()}
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

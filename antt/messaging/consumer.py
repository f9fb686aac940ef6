"""Consumer base: a durable JetStream pull consumer that applies each message exactly once
(projection + tracking row in one transaction, then ack) and dead-letters poison.

The fetch loop is our own, on nats-py: FastStream 0.7.8's pull subscriber let a bare
asyncio.TimeoutError from nats-py 2.16 escape, and after its supervisor restarted the task the
consumer stalled (seen in tests/e2e/test_dev.py). See docs/design-notes.md. It pulls with raw
`CONSUMER.MSG.NEXT` requests (`Puller`), and a spec may add a batch projection that applies a whole
fetched batch with grouped statements; its per-event projection remains the SAVEPOINT fallback.
Deliveries arrive as bytes (`antt.messaging.raw`): no nats-py `Msg` or header dict per message, and a
batch's acks go out in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import nats.js.errors
import sqlalchemy as sa
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import DEFAULT_PREFIX, ConsumerConfig, DeliverPolicy
from nats.js.api import AckPolicy as JsAckPolicy
from sqlalchemy.engine import Engine

from antt import metrics
from antt.eventstore.persistence import create_tables, driver_cursor, write_transaction
from antt.contracts import envelope, subjects, types
from antt.contracts.envelope import Envelope
from antt.messaging import raw
from antt.messaging.raw import RawMessage
from antt.messaging.streams import DLQ_STREAM, stream_name
from antt.messaging.tracking import metadata as tracking_metadata
from antt.messaging.tracking import tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedEvent:
    """A decoded message: its envelope, parsed subject and protobuf payload."""

    envelope: Envelope
    subject: subjects.Subject
    payload: Message

    @property
    def event_type(self) -> str:
        """Short event type, e.g. "UnitRegistered"."""
        return types.event_name(self.envelope.type)


Projection = Callable[[sa.Connection, ReceivedEvent], None]
# Applies a whole batch (in order, later events win) with the same result as Projection per event.
BatchProjection = Callable[[sa.Connection, list[ReceivedEvent]], None]
# Told, in a batch's transaction before its projection, how many messages were still pending after the batch.
CatchUp = Callable[[sa.Connection, int], None]


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service consumes: durable name, source service, filter and the projection to apply."""

    name: str  # durable consumer, "<consumer-svc>-from-<source-svc>"
    source: str
    projection: Projection
    filter_subject: str = ""
    metadata: Sequence[sa.MetaData] = field(default_factory=tuple)
    # Optional fast path for a fetched batch (grouped, multi-row statements); `projection` stays the
    # per-message path the SAVEPOINT fallback uses, so both must give the same read model.
    batch_projection: BatchProjection | None = None
    # Optional: lets a projection prepare its store by how far behind the stream it is (e.g. set indexes aside
    # while catching up); it must leave the read model's rows as they would be without it.
    catch_up: CatchUp | None = None

    @property
    def subject(self) -> str:
        """The subject filter (all of the source's events by default)."""
        return self.filter_subject or f"{subjects.PREFIX}.{self.source}.v1.>"


# Every column of the primary key (consumer, source, position) bound: the range scan reads the batch's positions only.
# Without the source, SQLite and PostgreSQL read every tracking row of the consumer, a cost per batch that grew
# with the stream (it was most of a consumer's CPU late in a national year).
_APPLIED_IN_RANGE = sa.select(tracking.c.position).where(
    tracking.c.consumer == sa.bindparam("consumer"), tracking.c.source == sa.bindparam("source"),
    tracking.c.position.between(sa.bindparam("low"), sa.bindparam("high")))


def applied_positions(conn: sa.Connection, consumer: str, keys: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of these (source, position) pairs `consumer` has applied already (one range scan per source)."""
    by_source: dict[str, set[int]] = {}
    for source, position in keys:
        by_source.setdefault(source, set()).add(position)
    applied: set[tuple[str, int]] = set()
    for source, positions in by_source.items():
        rows = conn.execute(_APPLIED_IN_RANGE, {"consumer": consumer, "source": source, "low": min(positions),
                                                "high": max(positions)})
        applied.update((source, p) for p in map(int, rows.scalars()) if p in positions)
    return applied


_INSERT_TRACKING = {style: f"INSERT INTO {tracking.name} (consumer, source, position) VALUES ({m}, {m}, {m})"
                    for style, m in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))}


def insert_tracking(conn: sa.Connection, rows: Sequence[tuple[str, str, int]]) -> None:
    """Insert tracking rows (consumer, source, position) with the driver's executemany (COPY on PostgreSQL):
    SQLAlchemy's per-row parameter processing of a batch cost more than the insert itself."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        copy_rows(conn, tracking.name, ("consumer", "source", "position"), rows)
    else:
        conn.exec_driver_sql(_INSERT_TRACKING[conn.dialect.paramstyle], list(rows))


def copy_rows(conn: sa.Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert rows with one PostgreSQL COPY in the connection's transaction: executemany sends a statement per
    row, and the server's time for them was most of a rebuild's. psycopg adapts the values as it does parameters,
    and a duplicate key fails the COPY (and its transaction) as it fails the INSERT."""
    with driver_cursor(conn) as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


class Outcome(enum.Enum):
    """What happened to one message."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    FAILED = "failed"


def decode(msg: Msg | RawMessage) -> ReceivedEvent:
    """Envelope + payload of a delivered message; raises on anything malformed."""
    if isinstance(msg, RawMessage):
        env = raw.envelope_of(msg.headers)
        return ReceivedEvent(env, raw.subject_of(msg.subject), types.decode(env.type, msg.data))
    env = envelope.from_headers(msg.headers)
    return ReceivedEvent(env, subjects.parse(msg.subject), types.decode(env.type, msg.data))


Delivery = Msg | RawMessage


@dataclass
class ConsumerOptions:
    """Delivery settings (see ANTT_CONSUMER_* variables)."""

    max_deliver: int = 5
    ack_wait: float = 30.0
    batch: int = 1000
    fetch_timeout: float = 1.0
    # After a partial batch, seconds to let more messages arrive before applying the next (see `run`).
    linger: float = 0.0


class PullError(Exception):
    """The server ended a pull for good (e.g. the durable consumer was deleted): bind again."""


class Puller:
    """Pulls a durable consumer's messages into one inbox: each request asks for up to `batch` messages
    and stays open until filled or expired, and `fetch` returns whatever has arrived.

    nats-py's `fetch` waits for every message of a batch separately (an `asyncio.wait_for` each), which
    capped a consumer at ~15–20k messages/s on the bench machine; here a batch costs one request. The
    inbox's messages are taken as bytes (`raw.Tap`) when the client allows it, as nats-py `Msg` otherwise.
    """

    def __init__(self, nc: Client, stream: str, durable: str, batch: int, expires: float) -> None:
        self.nc = nc
        self.subject = f"{DEFAULT_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.batch = batch
        self.request = json.dumps({"batch": batch, "expires": int(expires * 1e9)}).encode()
        self.expires = expires
        self.inbox = nc.new_inbox()
        self.buffer: list[Delivery] = []
        self.arrived = asyncio.Event()
        self.open = 0  # messages the open request may still deliver (0: no request open)
        self.error = ""
        self.sub: Subscription | None = None
        self.tap: raw.Tap | None = None

    async def start(self) -> None:
        """Subscribe to the inbox (before any request, so nothing is missed)."""
        self.sub = await self.nc.subscribe(self.inbox, cb=self._on_msg)
        self.tap = raw.Tap.of(self.nc)
        if self.tap is not None:
            self.tap.add(self.sub._id, self._on_raw)

    async def stop(self) -> None:
        """Unsubscribe; messages delivered but not applied are redelivered after the ack wait."""
        if self.sub is not None:
            if self.tap is not None:
                self.tap.remove(self.sub._id)
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
            self.sub = None

    async def _on_msg(self, msg: Msg) -> None:
        status = JetStreamContext.is_status_msg(msg)
        headers = msg.headers or {}
        self._arrived(msg, bool(msg.reply), status or "", headers.get("Description", ""))

    def _on_raw(self, msg: RawMessage) -> None:
        status = raw.status(msg.headers)
        self._arrived(msg, bool(msg.reply), status, raw.description(msg.headers) if status else "")

    def _arrived(self, msg: Delivery, reply: bool, status: str, description: str) -> None:
        if not status and not reply:  # not a stream message (an API error reply): the request is over
            self.open = 0
            self.error = f"unexpected reply to a pull: {msg.data[:200]!r}"
        elif not status:
            self.buffer.append(msg)
            self.open = max(0, self.open - 1)
        elif status == "100":
            return  # heartbeat or flow control: not the end of the request
        else:  # 404 no messages, 408 expired, 409 ended (deleted, leadership change, limits): request over
            self.open = 0
            # 503 no responders: the consumer does not exist (any more); both mean "bind again".
            if status == "503" or (status == "409" and "deleted" in description.lower()):
                self.error = f"{status} {description or 'no responders'}"
        self.arrived.set()

    async def _ask(self) -> None:
        self.open = self.batch
        await self.nc.publish(self.subject, self.request, reply=self.inbox)

    async def fetch(self) -> list[Delivery]:
        """The messages that have arrived, waiting up to the request's expiry for the first one."""
        if self.error:
            raise PullError(self.error)
        if not self.open and not self.buffer:
            await self._ask()
        if not self.buffer:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), self.expires + 1.0)
            except (asyncio.TimeoutError, TimeoutError):
                # Not even the expiry status: the request was lost (reconnect, consumer deleted meanwhile).
                raise PullError(f"no reply to a pull within {self.expires + 1.0:.1f}s") from None
        msgs, self.buffer = self.buffer, []
        if not self.open:
            await self._ask()  # the next batch flows in while this one is applied
        return msgs


async def ack_deliveries(nc: Client, msgs: Sequence[Delivery]) -> None:
    """Acknowledge deliveries: raw ones in one protocol write, nats-py `Msg`s one by one."""
    await raw.ack(nc, [m.reply for m in msgs if isinstance(m, RawMessage)])
    for msg in msgs:
        if not isinstance(msg, RawMessage):
            await msg.ack()


READ_BATCH = 5000  # messages per pull request of a one-off read (no acks, so no ack-pending limit)


def stream_position(msg: Delivery) -> tuple[int, int]:
    """(stream sequence, messages still pending for its consumer) of a delivery."""
    if isinstance(msg, RawMessage):
        return raw.stream_sequence(msg.reply)
    return msg.metadata.sequence.stream, msg.metadata.num_pending


async def read_stream(nc: Client, stream: str, filters: Sequence[str], last: int,
                      batch: int = READ_BATCH) -> AsyncIterator[list[Delivery]]:
    """The messages of `stream` on any of `filters` up to sequence `last`, in stream order, batch by batch.

    One ephemeral consumer (several filters need nats-server ≥ 2.10) that never acks, pulled like a
    durable one (`Puller`, raw deliveries); it is deleted at the end. Nothing is held beyond a batch.
    """
    js = nc.jetstream()
    filtering: dict[str, Any] = ({"filter_subject": filters[0]} if len(filters) == 1
                                 else {"filter_subjects": list(filters)})
    info = await js.add_consumer(stream, ConsumerConfig(
        ack_policy=JsAckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0, mem_storage=True,
        **filtering))
    pending = info.num_pending
    puller = Puller(nc, stream, info.name, batch, expires=5.0)
    await puller.start()
    try:
        while pending > 0:
            msgs = await puller.fetch()
            if not msgs:  # the request expired without messages: the tail was deleted meanwhile?
                pending = (await js.consumer_info(stream, info.name)).num_pending
                continue
            out: list[Delivery] = []
            for msg in msgs:
                seq, pending = stream_position(msg)
                if seq > last:  # published after the read started: not part of it
                    pending = 0
                    break
                out.append(msg)
            if out:
                yield out
    finally:
        await puller.stop()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, info.name)


async def read_filtered(nc: Client, stream: str, filters: Sequence[str], last: int,
                        batch: int = READ_BATCH) -> list[Delivery]:
    """The messages of `stream` on any of `filters` (disjoint) up to sequence `last`, in stream order.

    One single-filter read per filter, all at once, merged by stream sequence: nats-server scans a stream
    for a consumer with several filters several times slower than for one filter (7 area-event filters over
    the registry stream took ≈ 4.5 s against ≈ 0.5 s for one).
    """
    async def one(subject: str) -> list[Delivery]:
        return [m async for msgs in read_stream(nc, stream, [subject], last, batch) for m in msgs]

    parts = await asyncio.gather(*(one(f) for f in filters))
    if len(parts) == 1:
        return parts[0]
    keyed = sorted((stream_position(m)[0], i, m) for i, part in enumerate(parts) for m in part)
    return [m for _, _, m in keyed]


def _pending(msgs: Sequence[Delivery]) -> int:
    """Messages still pending on the consumer after a batch (0 if its last delivery does not say)."""
    try:
        return stream_position(msgs[-1])[1] if msgs else 0
    except (ValueError, AttributeError, TypeError, IndexError):
        return 0


class ProjectionConsumer:
    """Applies a ConsumerSpec's projection to a durable JetStream consumer, exactly once."""

    def __init__(self, spec: ConsumerSpec, engine: Engine, nc: Client, options: ConsumerOptions) -> None:
        self.spec = spec
        self.engine = engine
        self.nc = nc
        self.options = options
        create_tables(engine, tracking_metadata, *spec.metadata)

    def consumer_config(self) -> ConsumerConfig:
        """Durable pull consumer config; redelivery is unlimited because DLQ is ours to decide."""
        return ConsumerConfig(
            durable_name=self.spec.name, ack_policy=JsAckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.options.ack_wait, max_deliver=-1, filter_subject=self.spec.subject,
            max_ack_pending=max(1000, self.options.batch * 4),
        )

    async def run(self, stopping: asyncio.Event) -> None:
        """Fetch and apply batches until `stopping` is set; every error is logged and retried."""
        puller: Puller | None = None
        while not stopping.is_set():
            try:
                if puller is None:
                    puller = await self._bind()
                msgs = await puller.fetch()
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue  # nothing new
            except Exception as exc:  # server away, consumer missing, …: bind again after a pause
                log.warning("%s: fetch failed (%s); retrying", self.spec.name, exc)
                if puller is not None:
                    await puller.stop()
                puller = None
                await asyncio.sleep(0.5)
                continue
            if msgs:
                await self.process(msgs)
                if len(msgs) < self.options.batch and self.options.linger > 0:
                    # Under a trickle of events a batch's fixed cost (a transaction, the duplicate check, the
                    # read models' statements, the acks) outweighed its events: let the next batch gather more.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), self.options.linger)
        if puller is not None:
            await puller.stop()

    async def _bind(self) -> Puller:
        """Create the durable consumer if it is missing, then start pulling from it."""
        js = self.nc.jetstream()
        stream = stream_name(self.spec.source)
        try:
            await js.consumer_info(stream, self.spec.name)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(stream, self.consumer_config())
        puller = Puller(self.nc, stream, self.spec.name, self.options.batch, self.options.fetch_timeout)
        await puller.start()
        return puller

    async def process(self, msgs: Sequence[Delivery]) -> list[Outcome]:
        """Apply a fetched batch in order, then ack, nak or dead-letter each message."""
        try:
            outcomes = await asyncio.to_thread(self._apply_batch, msgs)
        except Exception as exc:  # the transaction itself failed: nothing was applied
            log.exception("%s: batch failed", self.spec.name)
            outcomes = [(Outcome.FAILED, repr(exc))] * len(msgs)
        done: list[Delivery] = []
        for msg, (outcome, error) in zip(msgs, outcomes, strict=True):
            if outcome is Outcome.FAILED:
                await self._failed(msg.to_msg(self.nc) if isinstance(msg, RawMessage) else msg, error)
            else:
                done.append(msg)
        await ack_deliveries(self.nc, done)
        return [o for o, _ in outcomes]

    def _apply_batch(self, msgs: Sequence[Delivery]) -> list[tuple[Outcome, str]]:
        """Apply a batch in one transaction; if anything in it fails, isolate the failure message by message."""
        decoded: list[ReceivedEvent | None] = []
        for msg in msgs:
            try:
                decoded.append(decode(msg))
            except Exception:
                decoded.append(None)
        if all(e is not None for e in decoded):
            try:
                results = self._apply_whole(decoded, _pending(msgs))  # type: ignore[arg-type]
            except Exception:
                log.info("%s: a batch of %d failed; applying message by message", self.spec.name, len(msgs))
            else:
                self._count(results)
                return results
        results = self._apply_one_by_one(msgs)
        self._count(results)
        return results

    def _apply_whole(self, events: list[ReceivedEvent], pending: int = 0) -> list[tuple[Outcome, str]]:
        """Fast path: one tracking query, the projections, one tracking insert, one commit."""
        results: list[tuple[Outcome, str]] = []
        rows: list[tuple[str, str, int]] = []
        fresh: list[ReceivedEvent] = []
        with write_transaction(self.engine) as conn:
            seen = self._applied_positions(conn, events)
            for event in events:
                key = (event.envelope.service, event.envelope.position)
                if key in seen:
                    results.append((Outcome.DUPLICATE, ""))
                    continue
                seen.add(key)
                fresh.append(event)
                rows.append((self.spec.name, key[0], key[1]))
                results.append((Outcome.APPLIED, ""))
            if self.spec.catch_up is not None:
                self.spec.catch_up(conn, pending)
            if self.spec.batch_projection is not None:
                if fresh:
                    self.spec.batch_projection(conn, fresh)
            else:
                for event in fresh:
                    self.spec.projection(conn, event)
            if rows:
                insert_tracking(conn, rows)
        return results

    def _apply_one_by_one(self, msgs: Sequence[Delivery]) -> list[tuple[Outcome, str]]:
        """Slow path: a SAVEPOINT per message, so one failing message leaves the others applied."""
        results: list[tuple[Outcome, str]] = []
        with write_transaction(self.engine) as conn:
            for msg in msgs:
                try:
                    event = decode(msg)
                    with conn.begin_nested():
                        if self._applied_positions(conn, [event]):
                            results.append((Outcome.DUPLICATE, ""))
                            continue
                        conn.execute(tracking.insert().values(
                            consumer=self.spec.name, source=event.envelope.service, position=event.envelope.position))
                        self.spec.projection(conn, event)
                    results.append((Outcome.APPLIED, ""))
                except Exception as exc:
                    results.append((Outcome.FAILED, f"{type(exc).__name__}: {exc}"))
        return results

    def _count(self, results: list[tuple[Outcome, str]]) -> None:
        # Counted only after commit: a crash before it applies (and counts) nothing.
        metrics.CONSUMER_PROCESSED.labels(self.spec.name).inc(sum(o is Outcome.APPLIED for o, _ in results))
        metrics.CONSUMER_DUPLICATES.labels(self.spec.name).inc(sum(o is Outcome.DUPLICATE for o, _ in results))

    def _applied_positions(self, conn: sa.Connection, events: list[ReceivedEvent]) -> set[tuple[str, int]]:
        """Which of these events' (source, position) pairs this consumer has applied already."""
        return applied_positions(conn, self.spec.name, ((e.envelope.service, e.envelope.position) for e in events))

    async def _failed(self, msg: Msg, error: str) -> None:
        metrics.CONSUMER_FAILURES.labels(self.spec.name).inc()
        delivered = msg.metadata.num_delivered
        if delivered >= self.options.max_deliver:
            await self.dead_letter(msg, error, delivered)
            await msg.term()
        else:
            log.warning("%s: delivery %d of %s failed: %s", self.spec.name, delivered, msg.subject, error)
            await msg.nak(delay=min(0.1 * 2 ** (delivered - 1), 5.0))

    async def dead_letter(self, msg: Msg, error: str, delivered: int) -> None:
        """Publish the message with its error to antt.dlq.<consumer> and count it."""
        headers = dict(msg.headers or {})
        seq = msg.metadata.sequence.stream
        headers.update({
            envelope.MSG_ID: f"dlq:{self.spec.name}:{seq}",
            "antt-dlq-consumer": self.spec.name,
            "antt-dlq-subject": msg.subject,
            "antt-dlq-stream-sequence": str(seq),
            "antt-dlq-deliveries": str(delivered),
            "antt-dlq-error": error[:1000],
        })
        await self.nc.jetstream().publish(subjects.dlq(self.spec.name), msg.data, headers=headers,
                                          stream=DLQ_STREAM)
        metrics.DEAD_LETTERS.labels(self.spec.name).inc()
        log.error("%s: message %s (stream seq %d) dead-lettered after %d deliveries: %s",
                  self.spec.name, msg.subject, seq, delivered, error)

    async def update_lag(self) -> None:
        """Set the consumer-lag gauge from the server's view of the durable consumer."""
        info = await self.nc.jetstream().consumer_info(stream_name(self.spec.source), self.spec.name)
        metrics.CONSUMER_LAG.labels(self.spec.name).set(info.num_pending + info.num_ack_pending)

"""Consumer base: a durable JetStream pull consumer that applies each message exactly once
(projection + tracking row in one transaction, then ack) and dead-letters poison.

The fetch loop is our own, on nats-py: FastStream 0.7.8's pull subscriber let a bare
asyncio.TimeoutError from nats-py 2.16 escape, and after its supervisor restarted the task the
consumer stalled (seen in tests/e2e/test_dev.py). See docs/design-notes.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats.errors
import sqlalchemy as sa
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy.engine import Engine

from antt import metrics
from antt.eventstore.persistence import create_tables, write_transaction
from antt.contracts import envelope, subjects, types
from antt.contracts.envelope import Envelope
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


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service consumes: durable name, source service, filter and the projection to apply."""

    name: str  # durable consumer, "<consumer-svc>-from-<source-svc>"
    source: str
    projection: Projection
    filter_subject: str = ""
    metadata: Sequence[sa.MetaData] = field(default_factory=tuple)

    @property
    def subject(self) -> str:
        """The subject filter (all of the source's events by default)."""
        return self.filter_subject or f"{subjects.PREFIX}.{self.source}.v1.>"


class Outcome(enum.Enum):
    """What happened to one message."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    FAILED = "failed"


def decode(msg: Msg) -> ReceivedEvent:
    """Envelope + payload of a raw message; raises on anything malformed."""
    env = envelope.from_headers(msg.headers)
    return ReceivedEvent(env, subjects.parse(msg.subject), types.decode(env.type, msg.data))


@dataclass
class ConsumerOptions:
    """Delivery settings (see ANTT_CONSUMER_* variables)."""

    max_deliver: int = 5
    ack_wait: float = 30.0
    batch: int = 100
    fetch_timeout: float = 1.0


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
        js = self.nc.jetstream()
        sub: Any = None
        while not stopping.is_set():
            try:
                if sub is None:
                    sub = await js.pull_subscribe(self.spec.subject, durable=self.spec.name,
                                                  stream=stream_name(self.spec.source), config=self.consumer_config())
                msgs = await sub.fetch(self.options.batch, timeout=self.options.fetch_timeout)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue  # nothing new
            except Exception as exc:  # server away, consumer missing, …: bind again after a pause
                log.warning("%s: fetch failed (%s); retrying", self.spec.name, exc)
                with contextlib.suppress(Exception):
                    if sub is not None:
                        await sub.unsubscribe()
                sub = None
                await asyncio.sleep(0.5)
                continue
            await self.process(msgs)
        with contextlib.suppress(Exception):
            if sub is not None:
                await sub.unsubscribe()

    async def process(self, msgs: list[Msg]) -> list[Outcome]:
        """Apply a fetched batch in order, then ack, nak or dead-letter each message."""
        try:
            outcomes = await asyncio.to_thread(self._apply_batch, msgs)
        except Exception as exc:  # the transaction itself failed: nothing was applied
            log.exception("%s: batch failed", self.spec.name)
            outcomes = [(Outcome.FAILED, repr(exc))] * len(msgs)
        for msg, (outcome, error) in zip(msgs, outcomes, strict=True):
            if outcome is Outcome.FAILED:
                await self._failed(msg, error)
            else:
                await msg.ack()
        return [o for o, _ in outcomes]

    def _apply_batch(self, msgs: list[Msg]) -> list[tuple[Outcome, str]]:
        """Apply a batch in one transaction; if anything in it fails, isolate the failure message by message."""
        decoded: list[ReceivedEvent | None] = []
        for msg in msgs:
            try:
                decoded.append(decode(msg))
            except Exception:
                decoded.append(None)
        if all(e is not None for e in decoded):
            try:
                results = self._apply_whole(decoded)  # type: ignore[arg-type]
            except Exception:
                log.info("%s: a batch of %d failed; applying message by message", self.spec.name, len(msgs))
            else:
                self._count(results)
                return results
        results = self._apply_one_by_one(msgs)
        self._count(results)
        return results

    def _apply_whole(self, events: list[ReceivedEvent]) -> list[tuple[Outcome, str]]:
        """Fast path: one tracking query, the projections, one tracking insert, one commit."""
        results: list[tuple[Outcome, str]] = []
        rows: list[dict[str, object]] = []
        with write_transaction(self.engine) as conn:
            seen = self._applied_positions(conn, events)
            for event in events:
                key = (event.envelope.service, event.envelope.position)
                if key in seen:
                    results.append((Outcome.DUPLICATE, ""))
                    continue
                seen.add(key)
                self.spec.projection(conn, event)
                rows.append({"consumer": self.spec.name, "source": key[0], "position": key[1]})
                results.append((Outcome.APPLIED, ""))
            if rows:
                conn.execute(tracking.insert(), rows)
        return results

    def _apply_one_by_one(self, msgs: list[Msg]) -> list[tuple[Outcome, str]]:
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
        """Which of these (source, position) pairs this consumer has applied already."""
        positions = sorted({e.envelope.position for e in events})
        q = sa.select(tracking.c.source, tracking.c.position).where(
            tracking.c.consumer == self.spec.name, tracking.c.position.in_(positions))
        wanted = {(e.envelope.service, e.envelope.position) for e in events}
        return {(r.source, int(r.position)) for r in conn.execute(q)} & wanted

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

"""Outbox relay: publish each stored event once per position, save the position after the ack.

Publishing is at-least-once (a crash after the ack but before the save re-publishes); JetStream
drops the repeat inside its duplicate window by Nats-Msg-Id "<service>:<position>", and the
consumers' tracking rows make the effect exactly-once beyond it.

A batch is pipelined: every message is sent without waiting, then the acks are awaited. Order is
kept by the server: each message after the first of a batch carries Nats-Expected-Last-Msg-Id =
the previous message's id, so if one is lost the ones after it are rejected rather than stored
out of order. The cursor only advances over the unbroken prefix of acknowledged positions; the
rest of the batch is then published one at a time (with retries and no expectation, so a message
that was stored but whose ack was lost comes back as a duplicate), as before pipelining. The server
checks the expectation before the duplicate window, so while the cursor is behind the stream (after
a restart) batches go one at a time until one holds no duplicate. The pipeline reads its acks on its
own reply subscription, so a refusal fails its message at once (nats-py 2.x's publish_async left it
unresolved until `publish_timeout`). While a full batch's acks come back, the next batch is read and
mapped (not sent): it is sent only after this one is settled and the cursor saved, and only if it
starts at the saved cursor.

Mapping: a publisher (the object whose bound `to_message` the relay is given) may also offer
`to_message_from_state(StoredState)` for the topics in its `state_topics`: the message is then made
from the stored JSON state, without decoding the domain event (see antt.relay.state); it answers None
to hand an event to the decoding path. Both paths give the same subject, headers and payload bytes.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from sqlalchemy.engine import Engine

from antt import metrics
from antt.eventstore.persistence import create_tables, write_transaction
from antt.contracts import envelope, subjects, types
from antt.contracts.meta import event_actor
from antt.eventstore.application import ServiceApplication
from antt.messaging.streams import stream_name
from antt.messaging.tracking import metadata, relay_position
from antt.relay import state

log = logging.getLogger(__name__)
SUBJECTS_KEPT = 50_000  # (type, province, commune) subjects remembered: every commune times a few types
LAG_INTERVAL = 1.0  # seconds between two readings of the store's head while batches keep coming


@dataclass(frozen=True)
class Published:
    """A domain event in the published language: its type, area and protobuf payload."""

    payload: Message
    province_code: str = ""
    commune_code: str = ""


ToMessage = Callable[[Any], "Published | None"]


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready for JetStream."""

    subject: str
    data: bytes
    envelope: envelope.Envelope

    @property
    def headers(self) -> dict[str, str]:
        """Its headers as a dict (the one-at-a-time path; the pipeline encodes them itself)."""
        return envelope.headers_for(self.envelope)


class OutboxRelay:
    """Reads the notification log after the saved position and publishes to JetStream."""

    def __init__(self, service: str, app: ServiceApplication, to_message: ToMessage, engine: Engine,
                 nc: Client, batch: int = 200, poll_interval: float = 0.2, publish_timeout: float = 5.0,
                 from_state: bool = True) -> None:
        self.service = service
        self.app = app
        self.to_message = to_message
        # The fast path, when the publisher offers one and the stored states are plain JSON.
        publisher = getattr(to_message, "__self__", None)
        self._from_state: state.ToMessageFromState | None = getattr(publisher, "to_message_from_state", None)
        self._state_topics: frozenset[str] = frozenset()
        if from_state and self._from_state is not None and state.readable(app.mapper):
            self._state_topics = frozenset(getattr(publisher, "state_topics", ()))
        self.engine = engine
        self.nc = nc
        self.batch = batch
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self._stopping = asyncio.Event()
        self._js: Any = None  # one JetStream context: publish_async keeps its reply subscription there
        self._one_at_a_time = False  # after a broken pipeline that met duplicates (see run_once)
        self._ce_types: dict[type, str] = {}
        self._subjects: dict[tuple[str, str, str], str] = {}
        self._lag_updated = float("-inf")
        self._ack_prefix = ""  # the relay's own reply subject prefix for pipelined publishes
        self._acks: dict[str, asyncio.Future[None]] = {}
        self._reply_numbers = itertools.count()
        # (position it follows, notifications, messages) of the next batch, made during the last one's acks
        self._prepared: tuple[int, list[Any], list[tuple[int, OutgoingMessage | None]]] | None = None
        create_tables(engine, metadata)
        self.position = self.load_position()

    def load_position(self) -> int:
        """The last acknowledged position, from the service's database."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(relay_position.c.position).where(relay_position.c.service == self.service)).scalar()
        return int(value or 0)

    def save_position(self, position: int) -> None:
        """Store the cursor (only ever called after the publish acks)."""
        with write_transaction(self.engine) as conn:
            updated = conn.execute(relay_position.update().where(relay_position.c.service == self.service)
                                   .values(position=position)).rowcount
            if not updated:
                conn.execute(relay_position.insert().values(service=self.service, position=position))

    def outgoing(self, notification: Any) -> OutgoingMessage | None:
        """The message for one stored notification, or None for an internal event."""
        if notification.topic in self._state_topics:
            stored = state.read(notification)
            published = self._from_state(stored)  # type: ignore[misc]
            if published is not None:
                s = stored.state
                return self._message(notification.id, published, stored.timestamp, stored.aggregate_id,
                                     stored.actor_id, s.get("digest", ""), s.get("prev_digest", ""))
        event = self.app.mapper.to_domain_event(notification)
        published = self.to_message(event)
        if published is None:
            return None
        return self._message(notification.id, published, event.timestamp.isoformat(), str(event.originator_id),
                             event_actor(event).id, event.__dict__.get("digest", ""),
                             event.__dict__.get("prev_digest", ""))

    def _message(self, position: int, published: Published, time: str, subject: str, actor: str, digest: str,
                 prev_digest: str) -> OutgoingMessage:
        """The message of a published event stored at `position`, with its envelope and subject."""
        payload_type = type(published.payload)
        ce_type = self._ce_types.get(payload_type)
        if ce_type is None:
            ce_type = self._ce_types[payload_type] = types.ce_type(self.service, published.payload)
        env = envelope.new(self.service, position, ce_type, time=time, subject=subject, actor=actor, hash=digest,
                           prev_hash=prev_digest)
        # A subject depends only on the type and the area: checked and built once per combination.
        key = (ce_type, published.province_code, published.commune_code)
        subject = self._subjects.get(key)
        if subject is None:
            if len(self._subjects) >= SUBJECTS_KEPT:
                self._subjects.clear()
            subject = self._subjects[key] = subjects.for_event(self.service, types.event_name(ce_type),
                                                               published.province_code, published.commune_code)
        return OutgoingMessage(subject, published.payload.SerializeToString(), env)

    def jetstream(self) -> Any:
        """The relay's JetStream context (created once)."""
        if self._js is None:
            self._js = self.nc.jetstream()
        return self._js

    async def publish(self, message: OutgoingMessage) -> bool:
        """Publish until JetStream acknowledges it, backing off while the server is away; True for a duplicate."""
        delay = 0.05
        js = self.jetstream()
        while True:
            try:
                ack = await js.publish(message.subject, message.data, headers=message.headers,
                                       stream=stream_name(self.service), timeout=self.publish_timeout)
                return bool(ack.duplicate)
            except Exception as exc:  # timeouts, no responders, reconnecting: all are retried
                metrics.RELAY_ERRORS.labels(self.service).inc()
                log.warning("relay %s: publish of %s failed (%s); retrying in %.2fs",
                            self.service, message.envelope.id, exc, delay)
                if self._stopping.is_set():
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def run_once(self) -> int:
        """Publish one batch; return how many notifications it advanced over."""
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == self.position:  # read and mapped while the last acks came back
            notifications, pending = prepared[1], prepared[2]
        else:
            notifications = await self._select(self.position)
            if not notifications:
                await self._update_lag()
                return 0
            pending = [(n.id, self.outgoing(n)) for n in notifications]
        full = len(notifications) == self.batch  # more is probably stored: prepare it during this batch's acks
        meanwhile = functools.partial(self._prepare, notifications[-1].id) if full else None
        acked = 0 if self._one_at_a_time else await self.publish_pipelined(pending, meanwhile)
        if acked < len(pending):
            duplicates = 0
            for _, message in pending[acked:]:  # what the pipeline did not get acknowledged, in order
                if message is not None:
                    duplicates += await self.publish(message)
                    metrics.RELAY_PUBLISHED.labels(self.service).inc()
            # Duplicates mean the cursor is behind what the stream holds (a restart after the acks):
            # the server refuses chained duplicates, so stay one at a time until a batch is all new.
            self._one_at_a_time = duplicates > 0
        last = notifications[-1].id
        await asyncio.to_thread(self.save_position, last)
        self.position = last
        metrics.RELAY_POSITION.labels(self.service).set(last)
        # While full batches keep coming, the lag is read at most once a second (one query fewer per batch).
        if len(notifications) < self.batch or time.monotonic() - self._lag_updated >= LAG_INTERVAL:
            await self._update_lag()
        return len(notifications)

    async def _select(self, after: int) -> list[Any]:
        """The next batch of notifications after a position (read in a thread)."""
        return await asyncio.to_thread(  # type: ignore[no-any-return]
            self.app.recorder.select_notifications, start=after, limit=self.batch, inclusive_of_start=False)

    async def _prepare(self, after: int) -> None:
        """Read and map the batch after `after` for the next run_once (which uses it if it starts there)."""
        try:
            notifications = await self._select(after)
            if notifications:
                self._prepared = (after, notifications, [(n.id, self.outgoing(n)) for n in notifications])
        except Exception:  # the next run_once reads and maps it again, and reports what fails
            log.debug("relay %s: preparing the batch after %d failed", self.service, after, exc_info=True)

    async def _ack_subject_prefix(self) -> str:
        """The prefix of the pipeline's reply subjects (subscribed once)."""
        if not self._ack_prefix:
            prefix = self.nc.new_inbox()
            await self.nc.subscribe(f"{prefix}.*", cb=self._on_ack)
            self._ack_prefix = f"{prefix}."
        return self._ack_prefix

    async def _on_ack(self, msg: Msg) -> None:
        """Resolve a pipelined publish from JetStream's reply (an error or a no-responders status fails it)."""
        future = self._acks.pop(msg.subject, None)
        if future is None or future.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            future.set_exception(ConnectionError("no JetStream stream answered"))
            return
        # A PubAck's JSON holds the key "error" only when refused: an ack without those bytes is not
        # parsed (inside a JSON string a quote is escaped, so no value can contain them).
        if b'"error"' not in msg.data:
            future.set_result(None)
            return
        reply = json.loads(msg.data)
        if "error" in reply:
            future.set_exception(RuntimeError(reply["error"].get("description", reply["error"])))
        else:
            future.set_result(None)

    def header_block(self, message: OutgoingMessage, previous: str, stream: str) -> bytes:
        """The encoded headers of a pipelined message, chained to the previous one's id."""
        return envelope.header_block(message.envelope, previous, stream)

    async def publish_pipelined(self, pending: list[tuple[int, OutgoingMessage | None]],
                                meanwhile: Callable[[], Awaitable[None]] | None = None) -> int:
        """Send a batch without waiting between messages; return how many leading entries were acknowledged.

        `meanwhile` runs once the batch is sent, before its acks are awaited (the relay prepares its next
        batch there, so its CPU overlaps the server's work on this one).

        The HPUB commands are built here, with the header block nats-py would build from the same
        headers (see envelope.header_block), in one format call: nats-py's per-key header encoding (a
        regex check, strip and encode per key) cost ≈ 45 µs of the relay's ≈ 250 µs CPU per message.
        Its public API takes headers only as a dict, so the commands go through the client's write
        buffer (`_send_command`, what `publish` ends in), and the acks come back on the relay's own
        reply subscription, as js.publish_async's do on its own.
        """
        nc = self.nc
        stream = stream_name(self.service)
        futures: list[asyncio.Future[Any] | None] = []
        previous = ""
        try:
            prefix = await self._ack_subject_prefix()
            loop = asyncio.get_running_loop()
            for _, message in pending:
                if message is None:
                    futures.append(None)
                    continue
                if not nc.is_connected:  # no buffering while away: the rest goes one at a time, with retries
                    raise ConnectionError("not connected")
                # Unless the previous message is the stream's last, the server rejects this one.
                hdr = self.header_block(message, previous, stream)
                reply = f"{prefix}{next(self._reply_numbers)}"
                future: asyncio.Future[None] = loop.create_future()
                self._acks[reply] = future
                head = f"HPUB {message.subject} {reply} {len(hdr)} {len(hdr) + len(message.data)}\r\n".encode()
                await nc._send_command(head + hdr + message.data + b"\r\n")
                futures.append(future)
                previous = message.envelope.id
            await nc.flush(self.publish_timeout)
        except Exception as exc:  # not connected, flush timed out: what was sent is awaited below
            log.warning("relay %s: pipelined publish stopped (%s)", self.service, exc)
        if meanwhile is not None:
            await meanwhile()
        sent = [f for f in futures if f is not None]
        if sent:
            await asyncio.wait(sent, timeout=self.publish_timeout)
        acked, published, broken = 0, 0, False
        for future in futures:
            if future is not None:
                if not future.done():
                    future.cancel()  # the message is published again one at a time
                    broken = True
                    continue
                if future.cancelled() or future.exception() is not None:  # exception() marks it retrieved
                    broken = True
                    continue
            if not broken:
                acked += 1
                published += future is not None
        if published:  # one labels() lookup per batch, not per message
            metrics.RELAY_PUBLISHED.labels(self.service).inc(published)
        self._acks.clear()  # a late ack of a cancelled publish is ignored
        if broken:
            metrics.RELAY_ERRORS.labels(self.service).inc()
            log.warning("relay %s: %d of %d acknowledged in order; publishing the rest one at a time",
                        self.service, acked, len(pending))
        return acked

    async def _update_lag(self) -> None:
        self._lag_updated = time.monotonic()
        latest = await asyncio.to_thread(self.app.recorder.max_notification_id) or 0
        metrics.RELAY_LAG.labels(self.service).set(max(0, latest - self.position))

    async def run(self) -> None:
        """Relay until stop() is called."""
        while not self._stopping.is_set():
            try:
                advanced = await self.run_once()
            except Exception:
                if self._stopping.is_set():
                    break
                log.exception("relay %s: batch failed; retrying", self.service)
                advanced = 0
            if not advanced:
                try:
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        """Ask run() to finish after the current publish."""
        self._stopping.set()

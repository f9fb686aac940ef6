"""Event-only notices claimed in bulk reach NATS exactly once: across a crash between a batch's claim and
its stored events, across re-runs, and with two workers scanning at once (real nats-server, SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig

from antt.eventstore.persistence import create_engine
from antt.events.v1 import notifications_pb2 as events_pb
from antt.messaging.streams import ensure_streams, stream_name
from antt.relay.outbox import OutboxRelay
from antt.runtime.nats_server import NatsServer
from services.notifications.application import Notifications, deliveries, pending_chunks
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.clock import FakeClock
from services.notifications.published import NotificationsPublisher
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import register_unit

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))
D7 = datetime(2026, 3, 24, 9, 0, tzinfo=ICT)  # D-7 of the national 31/03 registration and plan
COMMUNES = [("01", "00004"), ("01", "00008"), ("40", "16681"), ("68", "24820"), ("79", "26734")]
UNITS_PER_COMMUNE = 24  # khu dân cư: one registration reminder each


class Crash(Exception):
    """The injected crash."""


class CrashingNotifications(Notifications):
    """The real application, stopped (as a process would be, by a kill) before its `crash_at`-th batch of
    chunks is stored: the batch's claim is committed, its events are not."""

    name = "Notifications"  # the same event store tables as the service's (named after the application)
    crash_at = 2

    def _store_chunks(self, chunks: list[dict[str, Any]]) -> None:
        self.crash_at -= 1
        if self.crash_at == 0:
            raise Crash()
        super()._store_chunks(chunks)


def fill(engine: sa.Engine) -> set[str]:
    """Units without contacts (every notice event-only); the registration reminder keys due at D-7."""
    keys = set()
    for province, commune in COMMUNES:
        for i in range(UNITS_PER_COMMUNE):
            uid = f"u-{commune}-{i:02d}"
            register_unit(engine, uid, uid.upper(), "khu_dan_cu", province, commune)
            keys.add(f"2026/registration/{uid}|D-7|unit:{uid}")
    return keys


async def published(app: Notifications, nats_url: str) -> Counter[str]:
    """Relay the store to a real JetStream, read every notification message back: reminder key -> times."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        relay = OutboxRelay("notifications", app, NotificationsPublisher(app).to_message, app.engine, nc)
        while await relay.run_once():
            pass
        sub = await js.pull_subscribe("antt.notifications.>", stream=stream_name("notifications"),
                                      config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        msgs: list[Any] = []
        while True:
            try:
                msgs += await sub.fetch(500, timeout=1)
            except TimeoutError:  # nats.errors.TimeoutError, or asyncio's after a partial batch
                break
    finally:
        await nc.close()
    counts: Counter[str] = Counter()
    for m in msgs:
        kind = m.subject.split(".")[3]
        if kind == "RemindersSent":
            chunk = events_pb.RemindersSent.FromString(m.data)
            assert m.subject.endswith(f".{chunk.province_code}.{chunk.commune_code}")
            counts.update(r.reminder_key for r in chunk.reminders)
        elif kind == "ReminderSent":
            counts[events_pb.ReminderSent.FromString(m.data).reminder_key] += 1
    return counts


def _pending(app: Notifications) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(pending_chunks)).scalar() or 0)


def _listed(app: Notifications) -> set[str]:
    with app.engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.select(deliveries.c.key).where(deliveries.c.status == "sent"))}


def test_a_crash_between_claim_and_events_neither_loses_nor_repeats_a_notice(database_urls: dict[str, str],
                                                                             nats_server: NatsServer) -> None:
    url = database_urls["notifications"]
    crashing = CrashingNotifications(url, engine=create_engine(url))
    expected = fill(crashing.engine)
    channels = {"nats": NatsChannel()}
    # Batches of 30 notices: the crash comes after the first batch is stored and the second claimed.
    with pytest.raises(Crash):
        Scanner(crashing, crashing.engine, load_calendar_set(), channels, FakeClock(D7), bulk=30).scan()
    claimed = _listed(crashing)
    assert 30 < len(claimed) < len(expected) and _pending(crashing) >= 1
    before_restart = asyncio.run(published(crashing, nats_server.url))
    assert set(before_restart) < claimed  # the crashed batch was claimed but not published
    crashing.close()

    app = Notifications(url, engine=create_engine(url))  # the restarted process
    scanner = Scanner(app, app.engine, load_calendar_set(), channels, FakeClock(D7), bulk=30)
    result = scanner.scan()
    assert set(result.sent_keys) == expected - claimed  # the rest; the crashed batch is stored, not re-claimed
    assert _pending(app) == 0 and _listed(app) == expected
    assert scanner.scan().sent == 0  # an idempotent re-run sends nothing
    counts = asyncio.run(published(app, nats_server.url))
    assert set(counts) == expected
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}
    assert app.verify_chains() == []


def test_two_workers_claiming_in_bulk_at_once_publish_each_notice_once(database_urls: dict[str, str],
                                                                       nats_server: NatsServer) -> None:
    url = database_urls["notifications"]
    apps = [Notifications(url, engine=create_engine(url)) for _ in range(2)]
    expected = fill(apps[0].engine)
    scanners = [Scanner(a, a.engine, load_calendar_set(), {"nats": NatsChannel()}, FakeClock(D7), bulk=20,
                        worker_id=f"w{i}") for i, a in enumerate(apps)]
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def run(scanner: Scanner) -> None:
        barrier.wait()
        results.append(scanner.scan())

    threads = [threading.Thread(target=run, args=(s,)) for s in scanners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    sent = [k for r in results for k in r.sent_keys]
    assert len(sent) == len(set(sent)) and set(sent) == expected
    counts = asyncio.run(published(apps[0], nats_server.url))
    assert set(counts) == expected and set(counts.values()) == {1}

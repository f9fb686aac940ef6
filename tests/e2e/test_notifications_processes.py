"""Issue 6 acceptance with real processes: `antt serve notifications` killed mid-batch, and two replicas;
issue 8: killed between two bulk batches of event-only reminders.

Units come from a real registry store through its relay and NATS; reminders go to a real SMTP
server, which counts messages by their X-Antt-Reminder-Key header.
"""

from __future__ import annotations

import asyncio
import collections
import signal
from pathlib import Path

import grpc
import nats
import pytest
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig

from antt.actor import SYSTEM
from antt.eventstore.persistence import create_engine
from antt.events.v1 import notifications_pb2 as events_pb
from antt.messaging.streams import stream_name
from antt.notifications.v1 import notifications_service_pb2 as pb
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.testing.auth import service_channel
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_until
from services.notifications import projections
from services.notifications.application import deliveries, pending_chunks
from services.notifications.projections import units
from services.registry.application import Registry
from tests.unit.notifications.helpers import smtp_server

pytestmark = pytest.mark.e2e

UNITS = 150
# 19/01/2026 08:00 (UTC+7) is D-14 of the Bạch Long Vĩ registration (due Mon 02/02/2026).
CLOCK_START = "2026-01-19T08:00:00+07:00"


def registry_units(url: str) -> set[str]:
    """Register UNITS khu dân cư of đặc khu Bạch Long Vĩ, each with an email address; return the reminder keys."""
    app = Registry(url)
    keys = set()
    for i in range(UNITS):
        unit = app.register_unit(f"BLV-{i:03d}", f"Thôn {i}", "khu_dan_cu", "31", "11948", SYSTEM)
        app.update_unit(unit.id, SYSTEM, contact_email=f"thon{i}@bachlongvi.test")
        keys.add(f"2026/registration/{unit.id}|D-14|unit:{unit.id}")
    app.close()
    return keys


def ledger(url: str) -> dict[str, tuple[str, str]]:
    """key -> (status, claimed_by) from the notifications database."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(deliveries.name):
                return {}
            rows = conn.execute(sa.select(deliveries.c.key, deliveries.c.status, deliveries.c.claimed_by))
            return {r[0]: (r[1], r[2]) for r in rows}
    finally:
        engine.dispose()


def notifications_env(tmp_path: Path, nats: NatsServer, smtp_port: int,
                      clock_start: str = CLOCK_START) -> dict[str, str]:
    return service_env(tmp_path, nats.url, ANTT_SMTP_PORT=str(smtp_port), ANTT_NOTIFICATIONS_CLOCK_START=clock_start,
                       ANTT_NOTIFICATIONS_SCAN_INTERVAL="0.3", ANTT_NOTIFICATIONS_CLAIM_LEASE="2")


def replica_units_with_email(url: str) -> int:
    """Units in the notifications replica that already have their email address."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(units.name):
                return 0
            return int(conn.execute(sa.select(sa.func.count()).select_from(units)
                                    .where(units.c.contact_email != "")).scalar() or 0)
    finally:
        engine.dispose()


def fill_replica(tmp_path: Path, nats: NatsServer, smtp_port: int) -> None:
    """Let notifications learn every unit and its address first, on a day when nothing is due (01/01/2026).

    Otherwise a scan could run between a unit's UnitRegistered and its UnitUpdated, and rightly send
    that unit's reminder as an event only (it has no address yet).
    """
    env = notifications_env(tmp_path, nats, smtp_port, clock_start="2026-01-01T08:00:00+07:00")
    relay = ServiceProcess(["relay", "registry"], env, tmp_path / "registry.log").start()
    process = ServiceProcess(["serve", "notifications", "--no-grpc", "--no-metrics"], env,
                             tmp_path / "notifications-fill.log").start()
    try:
        wait_until(lambda: replica_units_with_email(f"sqlite:///{tmp_path / 'notifications.db'}") == UNITS,
                   timeout=200, interval=0.2, message="the replica knows every unit's address")
    finally:
        process.stop()
        relay.stop()


def test_killing_notifications_mid_batch_sends_no_duplicates_and_loses_none(tmp_path: Path,
                                                                             nats_server: NatsServer) -> None:
    expected = registry_units(f"sqlite:///{tmp_path / 'registry.db'}")
    with smtp_server() as (sink, port):
        fill_replica(tmp_path, nats_server, port)
        assert sink.keys() == {}
        env = notifications_env(tmp_path, nats_server, port)
        relay = ServiceProcess(["relay", "registry"], env, tmp_path / "registry.log").start()
        notifications = ServiceProcess(["serve", "notifications"], env, tmp_path / "notifications.log").start()
        try:
            # Kill it while the batch is being sent: some reminders have arrived, not all.
            wait_until(lambda: len(sink.keys()) >= UNITS // 4, timeout=240, interval=0.01,
                       message="a quarter of the reminders delivered")
            notifications.kill(signal.SIGKILL)
            at_kill = len(sink.keys())
            assert at_kill < UNITS, "the batch finished before the kill; nothing was interrupted"
            notifications.start()
            url = f"sqlite:///{tmp_path / 'notifications.db'}"
            try:
                wait_until(lambda: set(sink.keys()) == expected and {s for s, _ in ledger(url).values()} == {"sent"},
                           timeout=240, interval=0.2, message="every reminder delivered and recorded")
            except TimeoutError as exc:  # say which reminders, in what state, and what the service logged
                rows = ledger(url)
                missing = {k: rows.get(k) for k in sorted(expected - set(sink.keys()))}
                unsettled = {k: v for k, v in rows.items() if v[0] != "sent"}
                log_tail = (tmp_path / "notifications.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{exc}; killed at {at_kill}; missing {missing}; unsettled {unsettled}\n"
                                     f"{log_tail}") from None
            # One more scan through the API changes nothing.
            port_grpc = int(env["ANTT_NOTIFICATIONS_GRPC_PORT"])
            with service_channel(env, f"127.0.0.1:{port_grpc}") as channel:
                stub = pb_grpc.NotificationsServiceStub(channel)
                wait_until(lambda: _ready(stub), timeout=60, message="gRPC up")
                assert stub.RunScan(pb.RunScanRequest(), timeout=60).sent == 0
                sent = stub.ListDeliveries(pb.ListDeliveriesRequest(status="sent"), timeout=30).deliveries
                assert {d.reminder_key for d in sent} == expected
        finally:
            notifications.stop()
            relay.stop()
        counts = sink.keys()
    assert set(counts) == expected
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}


def _ready(stub: pb_grpc.NotificationsServiceStub) -> bool:
    try:
        return stub.GetRecipientCount(pb.GetRecipientCountRequest(), timeout=5).units == UNITS
    except grpc.RpcError:
        return False


def test_two_replicas_running_at_once_send_each_reminder_once(tmp_path: Path, nats_server: NatsServer) -> None:
    expected = registry_units(f"sqlite:///{tmp_path / 'registry.db'}")
    with smtp_server() as (sink, port):
        fill_replica(tmp_path, nats_server, port)
        assert sink.keys() == {}
        env = notifications_env(tmp_path, nats_server, port)
        relay = ServiceProcess(["relay", "registry"], env, tmp_path / "registry.log").start()
        replicas = [ServiceProcess(["serve", "notifications", "--no-grpc", "--no-metrics"], env,
                                   tmp_path / f"notifications-{n}.log").start() for n in ("a", "b")]
        url = f"sqlite:///{tmp_path / 'notifications.db'}"
        try:
            wait_until(lambda: len(ledger(url)) == UNITS and {s for s, _ in ledger(url).values()} == {"sent"},
                       timeout=200, interval=0.2, message="every reminder recorded as sent")
            wait_until(lambda: len(sink.keys()) >= UNITS, timeout=30, message="every reminder delivered")
            assert all(r.alive() for r in replicas)
        finally:
            for r in replicas:
                r.stop()
            relay.stop()
        counts = sink.keys()
    assert set(counts) == expected, (set(counts) - expected, expected - set(counts))
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}


BULK_UNITS = 24_000  # event-only reminders: several bulk batches, so a kill can fall between two of them
D7 = "2026-03-24T09:00:00+07:00"  # D-7 of the national 31/03 registration


def fill_event_only_replica(url: str) -> set[str]:
    """Khu dân cư without contacts in 40 communes, written to the replica as its consumer would have
    (the registry's path is covered above); their D-7 registration reminder keys."""
    engine = create_engine(url)
    try:
        projections.metadata.create_all(engine)
        rows = [dict(unit_id=f"u-{i:05d}", code=f"K-{i:05d}", name=f"Khu {i}", unit_type="khu_dan_cu",
                     province_code="01", commune_code=f"{100 + i % 40:05d}", eligible=True, closed=False)
                for i in range(BULK_UNITS)]
        with engine.begin() as conn:
            conn.execute(units.insert(), rows)
    finally:
        engine.dispose()
    return {f"2026/registration/{r['unit_id']}|D-7|unit:{r['unit_id']}" for r in rows}


def chunks_pending(url: str) -> int:
    """Claimed bulk batches whose events are not stored yet."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(pending_chunks)).scalar() or 0)
    finally:
        engine.dispose()


async def published_reminders(nats_url: str) -> collections.Counter[str]:
    """Every reminder key in the notifications stream (RemindersSent items and ReminderSent), with its count."""
    nc = await nats.connect(nats_url)
    counts: collections.Counter[str] = collections.Counter()
    try:
        sub = await nc.jetstream().pull_subscribe("antt.notifications.>", stream=stream_name("notifications"),
                                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        while True:
            try:
                msgs = await sub.fetch(500, timeout=2)
            except TimeoutError:
                break
            for m in msgs:
                if ".RemindersSent." in m.subject:
                    counts.update(r.reminder_key for r in events_pb.RemindersSent.FromString(m.data).reminders)
                elif ".ReminderSent." in m.subject:
                    counts[events_pb.ReminderSent.FromString(m.data).reminder_key] += 1
    finally:
        await nc.close()
    return counts


def test_killing_notifications_between_bulk_batches_publishes_each_event_only_reminder_once(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    expected = fill_event_only_replica(url)
    env = service_env(tmp_path, nats_server.url, ANTT_NOTIFICATIONS_CLOCK_START=D7,
                      ANTT_NOTIFICATIONS_SCAN_INTERVAL="0.3")
    notifications = ServiceProcess(["serve", "notifications", "--no-grpc", "--no-metrics"], env,
                                   tmp_path / "notifications.log").start()
    try:
        # Kill it during its first scan: some batches claimed, not all.
        wait_until(lambda: len(ledger(url)) > 0, timeout=240, interval=0.01, message="a first batch claimed")
        notifications.kill(signal.SIGKILL)
        at_kill = len(ledger(url))
        assert at_kill < len(expected), "the scan finished before the kill; nothing was interrupted"
        notifications.start()
        wait_until(lambda: len(ledger(url)) == len(expected) and chunks_pending(url) == 0, timeout=300,
                   interval=0.2, message="every reminder claimed and its chunk stored")
        counts: collections.Counter[str] = collections.Counter()

        def all_published() -> bool:
            counts.clear()
            counts.update(asyncio.run(published_reminders(nats_server.url)))
            return set(counts) == expected

        wait_until(all_published, timeout=120, interval=1, message="every reminder published")
    finally:
        notifications.stop()
    assert {s for s, _ in ledger(url).values()} == {"sent"}
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}

"""Notification events on NATS through the outbox, assessment events ending obligations, and the gRPC queries."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from antt.contracts import envelope, subjects
from antt.events.v1 import assessment_pb2
from antt.events.v1 import notifications_pb2 as events_pb
from antt.grpcx.server import ServicerBinding, create_server
from antt.messaging.consumer import ConsumerOptions, ProjectionConsumer
from antt.messaging.streams import ensure_streams, stream_name
from antt.notifications.v1 import notifications_service_pb2 as pb
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from antt.relay.outbox import OutboxRelay
from antt.runtime.nats_server import NatsServer
from antt.eventstore.persistence import create_engine
from antt.testing.auth import AuthKit
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.application import Notifications
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.channels.webhook import WebhookChannel
from services.notifications.clock import FakeClock
from services.notifications.consumers import FROM_ASSESSMENT
from services.notifications.published import NotificationsPublisher
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import register_unit

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))


async def _fetch(js: nats.js.JetStreamContext, service: str) -> list[nats.aio.msg.Msg]:
    sub = await js.pull_subscribe(f"antt.{service}.>", stream=stream_name(service),
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE))
    try:
        return await sub.fetch(100, timeout=2)
    except nats.errors.TimeoutError:
        return []


async def test_sent_failed_and_escalated_notices_are_published_once_on_nats(tmp_path: Path,
                                                                           nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    app = Notifications(url, engine=create_engine(url))
    # Overdue notice day of the Bạch Long Vĩ registration (due 02/02/2026): reminders and the commune's digest.
    clock = FakeClock(datetime(2026, 2, 3, 8, 0, tzinfo=ICT))
    register_unit(app.engine, "u-nats", "N-1", "khu_dan_cu", "31", "11948")
    register_unit(app.engine, "u-dead", "N-2", "khu_dan_cu", "31", "11948", webhook="http://127.0.0.1:9/none")
    scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel(), "webhook": WebhookChannel("s")},
                      clock, max_attempts=1)
    result = await asyncio.to_thread(scanner.scan)
    assert (result.sent, result.failed) == (2, 1)  # u-nats' notice and the digest; u-dead's webhook refused

    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    relay = OutboxRelay("notifications", app, NotificationsPublisher(app).to_message, app.engine, nc)
    await relay.run_once()
    await OutboxRelay("notifications", app, NotificationsPublisher(app).to_message, app.engine, nc).run_once()
    msgs = await _fetch(js, "notifications")
    await nc.close()
    by_subject = {m.subject: m for m in msgs}
    assert sorted(by_subject) == ["antt.notifications.v1.OverdueEscalated.31.11948",
                                  "antt.notifications.v1.ReminderFailed.31.11948",
                                  "antt.notifications.v1.RemindersSent.31.11948"]
    # An event-only notice (no contact) goes out in its commune's RemindersSent, as the ReminderSent it stands for.
    chunk = events_pb.RemindersSent.FromString(by_subject["antt.notifications.v1.RemindersSent.31.11948"].data)
    assert (chunk.province_code, chunk.commune_code, chunk.channel) == ("31", "11948", "nats")
    assert chunk.meta.recorded_at and len(chunk.reminders) == 1
    sent = chunk.reminders[0]
    assert (sent.reminder_key, sent.channel, sent.offset) == ("2026/registration/u-nats|overdue|unit:u-nats",
                                                              "nats", "overdue")
    assert (sent.obligation.due_date, sent.obligation.nominal_due_date) == ("2026-02-02", "2026-01-31")
    assert (sent.sent_at, sent.attempts) == ("2026-02-03T08:00:00+07:00", 0)  # claimed sent: one stored event
    assert (sent.province_code, sent.commune_code, sent.obligation.unit_id) == ("31", "11948", "u-nats")
    assert sent.obligation.obligation_key == "2026/registration/u-nats" and sent.obligation.kind == "registration"
    failed = events_pb.ReminderFailed.FromString(by_subject["antt.notifications.v1.ReminderFailed.31.11948"].data)
    assert failed.attempts == 1 and failed.recipient == "unit:u-dead" and failed.last_error
    digest = events_pb.OverdueEscalated.FromString(by_subject["antt.notifications.v1.OverdueEscalated.31.11948"].data)
    assert digest.supervisor == "commune:11948" and {i.unit_id for i in digest.items} == {"u-nats", "u-dead"}
    assert app.verify_chains() == []


async def test_an_assessment_case_registered_ends_the_units_registration_reminders(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    app = Notifications(url, engine=create_engine(url))
    register_unit(app.engine, "u-reg", "R-1", "khu_dan_cu", "31", "11948")
    register_unit(app.engine, "u-not", "R-2", "khu_dan_cu", "31", "11948")
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    payload = assessment_pb2.CaseRegistered(unit_id="u-reg", year=2026, unit_type="khu_dan_cu", province_code="31",
                                            commune_code="11948")
    env = envelope.new("assessment", 7, "antt.assessment.v1.CaseRegistered", "2026-01-20T01:00:00+00:00", "case-1")
    await js.publish(subjects.for_event("assessment", "CaseRegistered", "31", "11948"), payload.SerializeToString(),
                     headers=envelope.headers_for(env), stream=stream_name("assessment"))
    consumer = ProjectionConsumer(FROM_ASSESSMENT, app.engine, nc, ConsumerOptions())
    sub = await js.pull_subscribe(FROM_ASSESSMENT.subject, durable=FROM_ASSESSMENT.name,
                                  stream=stream_name("assessment"), config=consumer.consumer_config())
    await consumer.process(await sub.fetch(10, timeout=2))
    await nc.close()
    clock = FakeClock(datetime(2026, 1, 26, 8, 0, tzinfo=ICT))  # D-7
    result = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, clock).scan()
    assert result.sent_keys == ["2026/registration/u-not|D-7|unit:u-not"]


async def test_grpc_lists_deadlines_with_the_tet_shift_overdue_units_and_deliveries(auth_kit: AuthKit,
                                                                                   tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    app = Notifications(url, engine=create_engine(url))
    register_unit(app.engine, "u-1", "G-1", "khu_dan_cu", "31", "11948")
    clock = FakeClock(datetime(2033, 2, 8, 8, 0, tzinfo=ICT))
    scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, clock)
    binding = ServicerBinding(NotificationsServicer(app.engine, scanner),
                              pb_grpc.add_NotificationsServiceServicer_to_server,
                              "antt.notifications.v1.NotificationsService")
    server, port, _ = await create_server("notifications", "127.0.0.1", 0, [binding])
    try:
        async with auth_kit.aio_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.NotificationsServiceStub(channel)
            assert (await stub.GetRecipientCount(pb.GetRecipientCountRequest())).units == 1
            j = pb.Jurisdiction(province_code="31", commune_code="11948")
            upcoming = await stub.ListUpcomingDeadlines(pb.ListUpcomingDeadlinesRequest(
                jurisdiction=j, from_date="2033-01-20", days=30))
            [reg] = [d for d in upcoming.deadlines if d.rule_id == "registration"]
            assert (reg.nominal_due_date, reg.due_date, reg.day_off_reason) == ("2033-01-31", "2033-02-07",
                                                                                "Tết Âm lịch")
            overdue = await stub.ListOverdue(pb.ListOverdueRequest(jurisdiction=j))  # as of the clock: 08/02/2033
            assert [(d.rule_id, d.unit_id) for d in overdue.overdue if d.due_date.startswith("2033")] == [
                ("registration", "u-1")]
            scan = await stub.RunScan(pb.RunScanRequest())
            assert scan.sent == 2  # the overdue notice and the commune's digest
            listed = await stub.ListDeliveries(pb.ListDeliveriesRequest(jurisdiction=j, status="sent"))
            assert sorted(d.reminder_key for d in listed.deliveries) == [
                "2033/registration/u-1|overdue|unit:u-1", "digest/2033-02-08|escalation|commune:11948"]
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListOverdue(pb.ListOverdueRequest(as_of="31/01/2033"))
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await server.stop(None)

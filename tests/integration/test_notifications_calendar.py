"""Over real gRPC: the per-unit iCalendar feed, the "what will be sent on date D" preview, obligations with state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
import pytest
import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding, create_server
from antt.notifications.v1 import notifications_service_pb2 as pb
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from antt.testing.auth import AuthKit
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.application import Notifications, deliveries
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.channels.email import EmailChannel
from services.notifications.clock import FakeClock
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import case_registered, close_unit, register_unit, smtp_server
from tests.unit.notifications.test_ical import events, unescape

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))


def _stored_events(app: Notifications) -> int:
    return sum(1 for _ in app.iter_notifications())


def _rows(app: Notifications) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar() or 0)


async def test_calendar_preview_and_obligations_over_grpc(auth_kit: AuthKit,
                                                          database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    with smtp_server() as (sink, smtp_port):
        register_unit(app.engine, "u-nats", "K,1;A", "khu_dan_cu", "31", "11948")
        register_unit(app.engine, "u-mail", "K-2", "khu_dan_cu", "31", "11948", email="to2@example.vn")
        register_unit(app.engine, "u-done", "K-3", "khu_dan_cu", "31", "11948")
        register_unit(app.engine, "u-gone", "K-4", "khu_dan_cu", "31", "11948")
        case_registered(app.engine, "u-done", 2026, "31", "11948")
        close_unit(app.engine, "u-gone", "K-4", "31", "11948")
        clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=ICT))
        channels = {"nats": NatsChannel(), "email": EmailChannel("127.0.0.1", smtp_port, "antt@example.vn")}
        scanner = Scanner(app, app.engine, load_calendar_set(), channels, clock)
        binding = ServicerBinding(NotificationsServicer(app.engine, scanner),
                                  pb_grpc.add_NotificationsServiceServicer_to_server,
                                  "antt.notifications.v1.NotificationsService")
        server, port, _ = await create_server("notifications", "127.0.0.1", 0, [binding])
        try:
            async with auth_kit.aio_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.NotificationsServiceStub(channel)

                # The feed: 31/01/2026 is a Saturday, Bạch Long Vĩ shifts it to Monday 02/02.
                cal = await stub.GetUnitCalendar(pb.GetUnitCalendarRequest(unit_id="u-nats", year=2026))
                assert cal.content_type.startswith("text/calendar") and cal.events >= 2
                found = {e["UID"]: e for e in events(cal.body)}
                registration = found["2026-registration-u-nats@notifications.antt.bocongan.gov.vn"]
                assert registration["DTSTART"] == "20260202"
                assert unescape(registration["SUMMARY"]).endswith("— Đơn vị K,1;A")
                assert len(found) == cal.events
                done = await stub.GetUnitCalendar(pb.GetUnitCalendarRequest(unit_id="u-done", year=2026))
                assert "2026-registration-u-done" not in done.body.replace("\r\n ", "")
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.GetUnitCalendar(pb.GetUnitCalendarRequest(unit_id="nobody"))
                assert caught.value.code() is grpc.StatusCode.NOT_FOUND

                # Obligations with their state as of 03/02/2026.
                listed = await stub.ListObligations(pb.ListObligationsRequest(
                    jurisdiction=pb.Jurisdiction(commune_code="11948"), year=2026, as_of="2026-02-03"))
                states = {(o.deadline.unit_id, o.deadline.rule_id): (o.state, o.state_vi) for o in listed.obligations}
                assert states[("u-nats", "registration")] == ("overdue", "quá hạn")
                assert states[("u-done", "registration")] == ("satisfied", "đã hoàn thành")
                assert states[("u-gone", "registration")] == ("not_applicable", "không áp dụng")
                one = await stub.ListObligations(pb.ListObligationsRequest(unit_id="u-mail", as_of="2026-01-05"))
                assert {o.state for o in one.obligations} == {"pending"}
                assert {o.deadline.unit_id for o in one.obligations} == {"u-mail"}
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.ListObligations(pb.ListObligationsRequest(year=2026))
                assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT

                # Preview of 03/02/2026, the overdue-notice day: nothing written, nothing sent.
                before = (_stored_events(app), _rows(app))
                preview = await stub.PreviewSends(pb.PreviewSendsRequest(date="2026-02-03"))
                assert (_stored_events(app), _rows(app), len(sink.messages)) == (*before, 0) == (0, 0, 0)
                planned = {p.reminder_key: p for p in preview.sends}
                assert set(planned) == {"2026/registration/u-nats|overdue|unit:u-nats",
                                        "2026/registration/u-mail|overdue|unit:u-mail",
                                        "digest/2026-02-03|escalation|commune:11948"}
                mail = planned["2026/registration/u-mail|overdue|unit:u-mail"]
                assert (mail.channel, mail.address, mail.notice, mail.offset) == ("email", "to2@example.vn",
                                                                                   "overdue", "overdue")
                assert planned["digest/2026-02-03|escalation|commune:11948"].items == 2
                assert preview.at == "2026-02-03T08:00:00+07:00"
                assert (preview.total, preview.next_page_token) == (3, "")

                # Paged one send at a time: the same sends in key order, every page at the first page's instant.
                pages, token = [], ""
                while True:
                    page = await stub.PreviewSends(pb.PreviewSendsRequest(date="2026-02-03", page_size=1,
                                                                          page_token=token))
                    assert (len(page.sends), page.total, page.at) == (1, 3, preview.at)
                    pages.append(page.sends[0].reminder_key)
                    token = page.next_page_token
                    if not token:
                        break
                assert pages == sorted(planned)
                scoped = await stub.PreviewSends(pb.PreviewSendsRequest(
                    date="2026-02-03", jurisdiction=pb.Jurisdiction(province_code="31", commune_code="11948")))
                assert sorted(p.reminder_key for p in scoped.sends) == sorted(planned)
                elsewhere = await stub.PreviewSends(pb.PreviewSendsRequest(
                    date="2026-02-03", jurisdiction=pb.Jurisdiction(province_code="01")))
                assert (list(elsewhere.sends), elsewhere.total) == ([], 0)
                for bad in ("nonsense", "djE6e30"):  # not base64 of a token; "v1:{}" without its fields
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await stub.PreviewSends(pb.PreviewSendsRequest(page_token=bad))
                    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT

                # A scan at D sends exactly the previewed keys; a second preview finds them claimed.
                clock.set(datetime(2026, 2, 3, 8, 0, tzinfo=ICT))
                scan = await stub.RunScan(pb.RunScanRequest())
                assert scan.sent == 3 and scan.failed == 0
                sent = await stub.ListDeliveries(pb.ListDeliveriesRequest(status="sent"))
                assert {d.reminder_key for d in sent.deliveries} == set(planned)
                assert sink.keys() == {"2026/registration/u-mail|overdue|unit:u-mail": 1}
                again = await stub.PreviewSends(pb.PreviewSendsRequest(at="2026-02-03T09:00:00+07:00"))
                assert (list(again.sends), again.already_claimed) == ([], 3)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.PreviewSends(pb.PreviewSendsRequest(at="2026-02-03T09:00:00"))
                assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        finally:
            await server.stop(None)

"""Channels and the ledger against real receivers: signed webhooks with retries, SMTP, Tết, two workers."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from antt import metrics
from antt.eventstore.persistence import create_engine
from services.notifications.application import Notifications
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import HandOverRefused, NatsChannel, OutgoingMessage
from services.notifications.channels.email import KEY_HEADER, EmailChannel
from services.notifications.channels.webhook import SIGNATURE_HEADER, WebhookChannel, sign
from services.notifications.clock import FakeClock
from services.notifications.domain.ledger import DeliveryStatus
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import register_unit, smtp_server, webhook_receiver

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))
SECRET = "bí-mật-của-triển-khai"
PROVINCE, COMMUNE = "31", "11948"


def _setup(tmp_path: Path, start: datetime) -> tuple[Notifications, FakeClock, str]:
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    return Notifications(url, engine=create_engine(url)), FakeClock(start), url


def test_a_webhook_that_fails_twice_then_succeeds_gets_the_reminder_once_with_a_valid_signature(
        tmp_path: Path) -> None:
    # D-14 of the Bạch Long Vĩ registration (due Mon 02/02/2026) is 19/01/2026 at 08:00.
    app, clock, _ = _setup(tmp_path, datetime(2026, 1, 19, 8, 0, tzinfo=ICT))
    failed_before = metrics.REMINDERS_FAILED.labels("webhook")._value.get()
    with webhook_receiver(SECRET, failures=2) as (receiver, url):
        register_unit(app.engine, "u-hook", "HOOK-1", "co_quan", PROVINCE, COMMUNE, webhook=url)
        scanner = Scanner(app, app.engine, load_calendar_set(), {"webhook": WebhookChannel(SECRET)}, clock)
        first = scanner.scan()
        assert (first.sent, first.failed) == (0, 1)
        assert scanner.scan().failed == 0  # the backoff (30 s) has not passed: no new attempt
        clock.advance(timedelta(seconds=31))
        assert scanner.scan().failed == 1  # second failure; next attempt after 60 s more
        clock.advance(timedelta(seconds=61))
        third = scanner.scan()
        assert (third.sent, third.failed) == (1, 0)
        for _ in range(3):  # later scans change nothing
            clock.advance(timedelta(hours=1))
            assert scanner.scan().sent == 0
    assert [r[0] for r in receiver.requests] == [500, 500, 200]
    [(_, body, headers, signed)] = receiver.accepted()
    assert signed and headers[SIGNATURE_HEADER] == sign(SECRET, body)
    doc = json.loads(body)
    key = "2026/registration/u-hook|D-14|unit:u-hook"
    assert doc["reminder_key"] == key == headers["X-Antt-Reminder-Key"]
    assert "Còn 14 ngày" in doc["subject"] and "Đăng ký phấn đấu" in doc["text"]
    assert doc["obligation"]["due_date"] == "2026-02-02"
    delivery = app.get_delivery(key)
    assert delivery is not None and (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert metrics.REMINDERS_FAILED.labels("webhook")._value.get() - failed_before == 2


def test_a_refused_hand_over_leaves_no_message_at_the_smtp_server() -> None:
    with smtp_server() as (sink, port):
        channel = EmailChannel("127.0.0.1", port, "antt@test")
        message = OutgoingMessage("k|D-1|unit:u", "u@test", "Nhắc việc", "Nội dung có dấu: Đặc khu Bạch Long Vĩ")

        def refuse() -> None:
            raise HandOverRefused("k")

        with pytest.raises(HandOverRefused):
            channel.send(message, refuse)
        receipt = channel.send(message, lambda: None)
        assert receipt.startswith("250")
        assert sink.keys() == {"k|D-1|unit:u": 1}
        [mail] = sink.messages
        assert mail[KEY_HEADER] == "k|D-1|unit:u"
        assert "Đặc khu Bạch Long Vĩ" in mail.get_payload(decode=True).decode("utf-8")


def test_a_deadline_on_tet_is_reminded_against_its_shifted_date(tmp_path: Path) -> None:
    # Bạch Long Vĩ registration 31/01/2033 is Tết (Mon); the calendar shifts it to Mon 07/02/2033.
    app, clock, _ = _setup(tmp_path, datetime(2033, 1, 24, 8, 0, tzinfo=ICT))
    with smtp_server() as (sink, port):
        register_unit(app.engine, "u-tet", "TET-1", "khu_dan_cu", PROVINCE, COMMUNE, email="tet@test")
        scanner = Scanner(app, app.engine, load_calendar_set(),
                          {"email": EmailChannel("127.0.0.1", port, "antt@test")}, clock)
        sent_days = {}
        for day in range(20):
            clock.set(datetime.combine(date(2033, 1, 20) + timedelta(days=day), time(8, 0), tzinfo=ICT))
            for key in scanner.scan().sent_keys:
                sent_days[key] = clock.now().date()
        mails = {m[KEY_HEADER]: m for m in sink.messages}
    base = "2033/registration/u-tet"
    assert sent_days == {f"{base}|D-14|unit:u-tet": date(2033, 1, 24), f"{base}|D-7|unit:u-tet": date(2033, 1, 31),
                         f"{base}|D-1|unit:u-tet": date(2033, 2, 6), f"{base}|overdue|unit:u-tet": date(2033, 2, 8),
                         # no commune unit with an address here: the commune's digest goes out as an event only
                         "digest/2033-02-08|escalation|commune:11948": date(2033, 2, 8)}
    text = mails[f"{base}|D-7|unit:u-tet"].get_payload(decode=True).decode("utf-8")
    assert "Hạn: 07/02/2033 (lùi từ 31/01/2033 vì trùng ngày nghỉ: Tết Âm lịch)" in text


def test_two_workers_scanning_at_once_send_each_reminder_once(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]  # SQLite, and PostgreSQL when ANTT_TEST_POSTGRES_URL is set
    clock = FakeClock(datetime(2026, 1, 26, 8, 0, tzinfo=ICT))  # D-7 of the registration
    with smtp_server() as (sink, port):
        workers = []
        for name in ("replica-a", "replica-b"):
            app = Notifications(url, engine=create_engine(url))
            channels = {"email": EmailChannel("127.0.0.1", port, "antt@test"), "nats": NatsChannel()}
            workers.append(Scanner(app, app.engine, load_calendar_set(), channels, clock, worker_id=name))
        for i in range(60):
            register_unit(workers[0].engine, f"u{i:02d}", f"U{i:02d}", "khu_dan_cu", PROVINCE, COMMUNE,
                          email=f"u{i:02d}@test" if i % 3 else "")
        results = []
        barrier = threading.Barrier(2)

        def run(scanner: Scanner) -> None:
            barrier.wait()
            results.append(scanner.scan())

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        emails = sink.keys()
    sent = [k for r in results for k in r.sent_keys]
    assert len(sent) == len(set(sent)) == 60
    assert set(emails.values()) == {1} and len(emails) == 40
    assert {k for k in sent if not k.startswith("2026/registration/u") or int(k.split("/")[2][1:3]) % 3} == set(emails)

"""Day after day, the preview of date D lists exactly the keys that the scan at D then sends, and writes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from services.notifications.application import Notifications, deliveries
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.clock import FakeClock
from services.notifications.domain.due import digest_send_at
from services.notifications.preview import preview_day
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import case_registered, close_unit, register_unit

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))


def _written(app: Notifications) -> tuple[int, int]:
    with app.engine.connect() as conn:
        rows = int(conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar() or 0)
    return sum(1 for _ in app.iter_notifications()), rows


def test_preview_of_each_day_matches_that_days_scan(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    for i in range(12):
        register_unit(app.engine, f"u-{i:02d}", f"P-{i:02d}", "khu_dan_cu", "31", "11948")
    register_unit(app.engine, "u-commune", "X-11948", "xa_phuong", "31", "11948")
    clock = FakeClock(datetime(2026, 1, 10, 8, 0, tzinfo=ICT))
    scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, clock)
    day, total = date(2026, 1, 10), 0
    while day <= date(2026, 2, 10):
        if day == date(2026, 1, 20):
            case_registered(app.engine, "u-03", 2026, "31", "11948")
            close_unit(app.engine, "u-04", "P-04", "31", "11948")
        before = _written(app)
        planned = preview_day(scanner, day)
        assert _written(app) == before, day
        clock.set(digest_send_at(day))
        result = scanner.scan()
        assert sorted(p.key for p in planned.sends) == sorted(result.sent_keys), day
        assert len(planned.sends) + planned.already_claimed == result.due, day  # stages stay current for days
        total += len(result.sent_keys)
        day += timedelta(days=1)
    assert total > 13 * 3  # D-14, D-7, D-1 and overdue stages of the registration at least

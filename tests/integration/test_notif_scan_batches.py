"""The scan hands event-only notices to the bulk claim in whole batches (one batch cut short per scan at
most: a short batch costs a transaction of its own) and still claims every due notice once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest

from antt.eventstore.persistence import create_engine
from services.notifications.application import BulkNotice, Notifications
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.clock import FakeClock
from services.notifications.scanner import Scanner
from tests.integration.test_notifications_bulk import D7, fill

pytestmark = pytest.mark.integration


class CountingNotifications(Notifications):
    """The real application, recording the size of each claimed batch."""

    name = "Notifications"  # the same event store tables as the service's
    batches: list[int]

    def _claim_batch(self, part: Sequence[BulkNotice], *args: Any) -> Any:
        self.batches.append(len(part))
        return super()._claim_batch(part, *args)


def test_the_scan_claims_whole_batches_and_every_notice_once(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = CountingNotifications(url, engine=create_engine(url))
    app.batches = []
    expected = fill(app.engine)  # 5 communes of 24 notices: batches of 20 cut across communes
    scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, FakeClock(D7), bulk=20)
    result = scanner.scan()
    assert sorted(result.sent_keys) == sorted(expected)
    assert app.batches == [20] * (len(expected) // 20) + ([len(expected) % 20] if len(expected) % 20 else [])
    assert scanner.scan().sent == 0  # a re-run claims nothing


def test_a_scan_at_another_instant_claims_in_whole_batches_too(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = CountingNotifications(url, engine=create_engine(url))
    app.batches = []
    expected = fill(app.engine)
    scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()},
                      FakeClock(datetime.fromisoformat("2026-03-24T10:00:00+07:00")), bulk=7)
    assert sorted(scanner.scan().sent_keys) == sorted(expected)
    assert all(n == 7 for n in app.batches[:-1]) and 0 < app.batches[-1] <= 7

"""A real scan stores its event-only notices as chunks named by unit id (SQLite and PostgreSQL): read back from
the event store, each chunk lists exactly the keys the scan claimed and publishes the RemindersSent its full
form (every item written out) publishes, and the hash chains verify."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from services.notifications.application import Notifications, deliveries
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.clock import FakeClock
from services.notifications.domain.ledger import NoticeChunk, chunk_items
from services.notifications.published import chunk_message
from services.notifications.scanner import Scanner
from tests.integration.test_notifications_bulk import D7, fill

pytestmark = pytest.mark.integration


def _full(event: Any) -> Any:
    """The same chunk event with every group in the full form (its items written out)."""
    groups = [{"notice": g["notice"], "offset": g["offset"], "obligation": g["obligation"],
               "items": json.dumps(chunk_items(g), ensure_ascii=False)} for g in event.groups]
    return NoticeChunk(chunk_id=event.chunk_id, sent_at=event.sent_at, channel=event.channel,
                       province_code=event.province_code, commune_code=event.commune_code,
                       groups=groups).collect_events()[0]


def test_a_scan_stores_chunks_by_unit_id_that_publish_what_the_full_form_does(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    expected = fill(app.engine)
    result = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, FakeClock(D7), bulk=50).scan()
    assert sorted(result.sent_keys) == sorted(expected)
    events = [e for e in map(app.mapper.to_domain_event, app.iter_notifications()) if isinstance(e, NoticeChunk.Sent)]
    assert sorted(k for e in events for k in e.mutate(None).keys()) == sorted(expected)
    with app.engine.connect() as conn:  # what the claim listed: each item's unit and recipient, independently
        listed = {r[0]: [r[0], r[1], r[2]] for r in conn.execute(sa.select(
            deliveries.c.key, deliveries.c.unit_id, deliveries.c.recipient))}
    assert [i for e in events for g in e.groups for i in chunk_items(g)] == \
        [listed[k] for e in events for k in e.mutate(None).keys()]
    for event in events:
        assert all("units" in g and "items" not in g for g in event.groups)
        published, full = chunk_message(event).payload, chunk_message(_full(event)).payload
        assert len(published.reminders) == len(full.reminders) > 0
        for message in (published, full):
            message.ClearField("meta")  # the two events' own ids and times
        assert published.SerializeToString(deterministic=True) == full.SerializeToString(deterministic=True)
    assert app.verify_chains() == []
    app.close()

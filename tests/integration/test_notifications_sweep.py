"""The set-based scan equals the old one: same notices, same channels and texts, same published facts.

The reference is the path the scan used before (issue 8): `scanner.snapshot` of every unit and
obligation in memory, `due_reminders` / `due_digests`, one message per notice and one ReminderSent
per event-only notice. The new path streams the replica commune by commune (`sweep.areas`) and
publishes event-only notices in chunks (RemindersSent). A generated country with local calendars
(Bạch Long Vĩ, Long Biên, Nghệ An, Lâm Đồng), every unit type, closures, moves, contacts and
obligations already done is compared at instants drawn by hypothesis, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.bench.country import official_communes
from antt.eventstore.persistence import create_engine
from antt.events.v1 import registry_pb2
from services.notifications import projections, sweep
from services.notifications.application import BulkNotice, Notifications, _chunks, deliveries
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.channels.email import EmailChannel
from services.notifications.channels.webhook import WebhookChannel
from services.notifications.clock import FakeClock
from services.notifications.domain.calendar import Tier
from services.notifications.domain.due import DEFAULT_DUE, due_digests, due_reminders
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.ledger import NoticeChunk, ReminderDelivery
from services.notifications.facts import Snapshot, digest_message, reminder_message, route
from services.notifications.preview import _planned, preview_at
from services.notifications.published import NotificationsPublisher
from services.notifications.scanner import Scanner, _bulk, _stored, snapshot
from tests.unit.notifications.helpers import case_registered, close_unit, received, register_unit

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))
TYPES = ("khu_dan_cu", "co_quan", "doanh_nghiep", "co_so_giao_duc")
CHANNELS = {"nats": NatsChannel(), "email": EmailChannel("127.0.0.1", 9, "antt@test"),
            "webhook": WebhookChannel("secret")}


def _communes() -> list[tuple[str, str]]:
    """Communes with their own or their province's calendar, and a few with the national one only."""
    official = official_communes()
    chosen = [("31", "11948"), ("01", "00145")]
    for province in ("40", "68", "79", "01"):
        chosen += [(c.province_code, c.code) for c in official if c.province_code == province][:2]
    return list(dict.fromkeys(chosen))


def country(engine: sa.Engine, seed: int = 8) -> None:
    """Units of every type in those communes (and each commune as a unit), with contacts, closures,
    moves and satisfied obligations of 2026 and 2027."""
    rng = random.Random(seed)
    communes = _communes()
    n = 0
    for province, commune in communes:
        register_unit(engine, f"xa-{commune}", f"XA-{commune}", "xa_phuong", province, commune,
                      email=f"ubnd{commune}@test" if rng.random() < 0.5 else "")
        for _ in range(14):
            n += 1
            contact = rng.random()
            register_unit(engine, f"u-{n:03d}", f"U-{n:03d}", rng.choice(TYPES), province, commune,
                          email=f"u{n}@test" if contact < 0.2 else "",
                          webhook=f"http://127.0.0.1:9/u{n}" if 0.2 <= contact < 0.3 else "")
    ids = [f"u-{i:03d}" for i in range(1, n + 1)]
    for uid in rng.sample(ids, 8):
        close_unit(engine, uid, uid.upper(), "", "")
    for uid in rng.sample(ids, 8):  # moves, some into a commune with its own calendar
        province, commune = rng.choice(communes)
        with engine.begin() as conn:
            projections.on_registry_event(conn, received("registry", registry_pb2.UnitMoved(
                unit_id=uid, code=uid.upper(), province_code=province, commune_code=commune), province, commune))
    for uid in rng.sample(ids, 20):
        case_registered(engine, uid, rng.choice((2026, 2027)), "", "")
    with engine.begin() as conn:
        for uid in rng.sample(ids, 10):
            conn.execute(projections.satisfied.insert().values(unit_id=uid, year=2026,
                                                               kind=rng.choice(("plan", "report", "*"))))


def reference(engine: sa.Engine, now: datetime) -> dict[str, tuple[str, Any]]:
    """key -> (channel, message) the old scan computed, from the snapshot of everything."""
    calendars, working = load_calendar_set(), WorkingCalendar()
    snap = snapshot(engine, calendars, working, now)
    out = {}
    for r in due_reminders(snap.obligations, snap.satisfied, now):
        channel, m = reminder_message(r, snap, CHANNELS)
        out[m.key] = (channel, m)
    for d in due_digests(snap.obligations, snap.satisfied, now):
        channel, m = digest_message(d, snap, CHANNELS)
        out[m.key] = (channel, m)
    return out


def streamed(engine: sa.Engine, now: datetime) -> tuple[dict[str, tuple[str, Any]], list[sweep.DueNotice]]:
    """The same from `sweep.areas`, as the scan and the preview now compute it; and the due notices."""
    calendars, working = load_calendar_set(), WorkingCalendar()
    out, notices, rest, rest_units = {}, [], [], {}
    for area in sweep.areas(engine, calendars, working, now, DEFAULT_DUE):
        for n in area.due:
            channel, m = reminder_message(n.reminder(), area.snap, CHANNELS)
            assert (n.key, n.recipient_label) == (m.key, m.facts["recipient"])
            contact = n.unit if n.stage.to_unit else area.snap.contact(n.recipient)
            assert route(contact, CHANNELS)[0] == channel
            out[m.key] = (channel, m)
            notices.append(n)
        for d in sweep.digests_of(area.overdue, now, DEFAULT_DUE, (Tier.COMMUNE,)):
            channel, m = digest_message(d, area.snap, CHANNELS)
            out[m.key] = (channel, m)
        for o in area.overdue:
            if o.escalate_to.tier is not Tier.COMMUNE:
                rest.append(o)
                rest_units[o.subject] = area.snap.units[o.subject]
    snap = Snapshot(rest_units, [], set())
    for d in sweep.digests_of(rest, now, DEFAULT_DUE, (Tier.PROVINCE, Tier.MINISTRY)):
        channel, m = digest_message(d, snap, CHANNELS)
        out[m.key] = (channel, m)
    return out, notices


def published_one_by_one(channel: str, m: Any, now: datetime) -> Any:
    """The ReminderSent the old path published for an event-only notice (one delivery claimed sent)."""
    d = ReminderDelivery(key=m.key, channel=channel, claimed_by="w", claimed_at=now, message=_stored(m),
                         sent_receipt="outbox")
    payload = NotificationsPublisher(None).to_message(d.collect_events()[0]).payload
    payload.ClearField("meta")  # a chunk's items leave it to the chunk's meta
    return payload


def published_in_chunks(notices: list[sweep.DueNotice], now: datetime) -> dict[str, Any]:
    """reminder key -> the item of the RemindersSent its chunk publishes."""
    groups: dict[int, Any] = {}
    bulk: list[BulkNotice] = [_bulk(n, groups) for n in notices]
    out = {}
    for args in _chunks("b", bulk, now, "nats"):
        event = NoticeChunk(**{**args, "sent_at": datetime.fromisoformat(args["sent_at"])}).collect_events()[0]
        message = NotificationsPublisher(None).to_message(event)
        assert (message.province_code, message.commune_code) == (args["province_code"], args["commune_code"])
        for item in message.payload.reminders:
            assert (item.province_code, item.commune_code) == (args["province_code"], args["commune_code"])
            out[item.reminder_key] = item
    return out


INSTANTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 4, 30)).map(
    lambda d: d.replace(tzinfo=ICT))


def test_the_streamed_scan_finds_the_same_notices_as_the_snapshot(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    engine = app.engine
    country(engine)
    checked = {"reminders": 0, "digests": 0, "event_only": 0}

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(now=st.one_of(INSTANTS, st.sampled_from([  # the stages around the deadlines of the calendars
        datetime(2026, 1, 19, 8, tzinfo=ICT), datetime(2026, 2, 3, 8, tzinfo=ICT),
        datetime(2026, 3, 24, 9, tzinfo=ICT), datetime(2026, 4, 1, 8, tzinfo=ICT),
        datetime(2026, 4, 2, 8, tzinfo=ICT), datetime(2026, 3, 17, 7, 59, tzinfo=ICT)])))
    def same(now: datetime) -> None:
        old = reference(engine, now)
        new, notices = streamed(engine, now)
        assert sorted(new) == sorted(old)
        for key, (channel, m) in old.items():
            channel2, m2 = new[key]
            assert (channel2, m2.address, m2.subject, m2.body, m2.facts) == (channel, m.address, m.subject, m.body,
                                                                              m.facts), key
        event_only = [n for n in notices if old[n.key][0] == "nats"]
        chunked = published_in_chunks(event_only, now)
        assert sorted(chunked) == sorted(n.key for n in event_only)
        for key, item in chunked.items():
            assert item == published_one_by_one(*old[key], now), key
        scanner = Scanner(app, engine, load_calendar_set(), CHANNELS, FakeClock(now))
        assert preview_at(scanner, now).sends == sorted((_planned(c, m) for c, m in old.values()), key=lambda p: p.key)
        for province, commune in (("40", ""), ("31", "11948"), ("", "00145")):
            in_scope = [p for c, m in old.values() for p in [_planned(c, m)]
                        if (not province or p.province_code == province) and (not commune or p.commune_code == commune)]
            assert preview_at(scanner, now, province, commune).sends == sorted(in_scope, key=lambda p: p.key)
        checked["reminders"] += len(notices)
        checked["digests"] += len(old) - len(notices)
        checked["event_only"] += len(event_only)

    same()
    assert min(checked.values()) > 0, checked  # the draws met every kind of notice


def test_a_scan_sends_what_the_snapshot_finds_and_a_second_scan_nothing(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    country(app.engine)
    for now in (datetime(2026, 3, 24, 9, tzinfo=ICT), datetime(2026, 4, 2, 8, tzinfo=ICT)):
        scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, FakeClock(now))
        expected = {k for k, (c, _) in reference(app.engine, now).items()}
        first = scanner.scan()
        assert sorted(first.sent_keys) == sorted(expected - _claimed_before(app, first.sent_keys))
        assert scanner.scan().sent == 0
    chunks = [n for n in app.iter_notifications() if "NoticeChunk" in n.topic]
    assert chunks and app.verify_chains() == []


def _claimed_before(app: Notifications, now_sent: list[str]) -> set[str]:
    with app.engine.connect() as conn:
        keys = {r[0] for r in conn.execute(sa.select(deliveries.c.key))}
    return keys - set(now_sent)

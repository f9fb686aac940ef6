"""Issue 6 acceptance: one simulated year for a commune of 200 units under the Bạch Long Vĩ calendar.

The scheduler runs on a controlled clock, once a day at 08:00 (UTC+7), against a real SMTP server.
The expected reminders are computed here from the calendar's dates written out by hand, not by
the service's schedule code.
"""

from __future__ import annotations

import collections
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from services.notifications.application import Notifications, deliveries
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.channels.email import EmailChannel
from services.notifications.clock import FakeClock
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import case_registered, close_unit, register_unit, smtp_server

pytestmark = pytest.mark.integration

ICT = timezone(timedelta(hours=7))
PROVINCE, COMMUNE = "31", "11948"  # Thành phố Hải Phòng, đặc khu Bạch Long Vĩ
YEAR = 2026
# Deadlines of a unit of commune 11948 in 2026, from national.yaml and commune-11948-bach-long-vi.yaml,
# shifted by hand to the next working day: 31/01 is a Saturday, 15/11 a Sunday.
DEADLINES: dict[str, tuple[date, frozenset[str], str]] = {
    "registration": (date(2026, 2, 2), frozenset({"khu_dan_cu", "xa_phuong", "co_quan"}), "unit"),
    "plan": (date(2026, 3, 31), frozenset({"xa_phuong", "co_quan"}), "unit"),
    "annual_results": (date(2026, 10, 30), frozenset({"khu_dan_cu", "co_quan"}), "unit"),
    "decision_kdc": (date(2026, 11, 16), frozenset({"khu_dan_cu"}), "commune"),
    "decision_agency": (date(2026, 11, 20), frozenset({"co_quan"}), "commune"),
    "classification_kdc": (date(2026, 11, 20), frozenset({"khu_dan_cu"}), "commune"),
    "decision_commune": (date(2026, 11, 20), frozenset({"xa_phuong"}), "province"),
    "classification_other": (date(2026, 11, 30), frozenset({"co_quan"}), "commune"),
    "classification_commune": (date(2026, 11, 30), frozenset({"xa_phuong"}), "province"),
}
STAGES = (("D-14", -14), ("D-7", -7), ("D-1", -1), ("overdue", 1))


def unit_type(i: int) -> str:
    return "xa_phuong" if i == 0 else "khu_dan_cu" if i < 160 else "co_quan"


UNITS = {f"u{i:03d}": unit_type(i) for i in range(200)}
EMAIL = {uid for i, uid in enumerate(sorted(UNITS)) if i % 2 == 0}  # the others have no contact: NATS only
REGISTERED = {**{f"u{i:03d}": date(2026, 1, 5) for i in range(1, 51)},      # before any reminder
              **{f"u{i:03d}": date(2026, 1, 22) for i in range(51, 81)}}    # after D-14, before D-7
CLOSED = {f"u{i:03d}": date(2026, 3, 1) for i in range(150, 160)}


def recipient(owing: str, uid: str) -> str:
    return {"unit": f"unit:{uid}", "commune": f"commune:{COMMUNE}", "province": f"province:{PROVINCE}"}[owing]


def expected_reminders() -> dict[str, date]:
    """Every reminder key the year must send, with its day."""
    keys: dict[str, date] = {}
    for uid, utype in UNITS.items():
        for rule, (due, types, owing) in DEADLINES.items():
            if utype not in types:
                continue
            for offset, days in STAGES:
                day = due + timedelta(days=days)
                if uid in CLOSED and CLOSED[uid] <= day:
                    continue
                if rule == "registration" and uid in REGISTERED and REGISTERED[uid] <= day:
                    continue
                keys[f"{YEAR}/{rule}/{uid}|{offset}|{recipient(owing, uid)}"] = day
    return keys


def supervisor(rule: str, utype: str) -> str:
    owing = DEADLINES[rule][2]
    if owing == "unit":
        return f"province:{PROVINCE}" if utype == "xa_phuong" else f"commune:{COMMUNE}"
    return f"province:{PROVINCE}" if owing == "commune" else "ministry:BCA"


def expected_digests() -> set[str]:
    """One digest per supervisor on each day an obligation in its jurisdiction became overdue."""
    found = set()
    for uid, utype in UNITS.items():
        for rule, (due, types, _) in DEADLINES.items():
            day = due + timedelta(days=1)
            if utype not in types or (uid in CLOSED and CLOSED[uid] <= day):
                continue
            if rule == "registration" and uid in REGISTERED and REGISTERED[uid] <= day:
                continue
            found.add(f"digest/{day.isoformat()}|escalation|{supervisor(rule, utype)}")
    return found


def subject(key: str) -> str:
    """The unit a reminder key is about: "<year>/<rule>/<unit>|<offset>|<recipient>"."""
    return key.split("|")[0].split("/")[2]


def email_goes_to(key: str) -> bool:
    """Units with an address get email; the commune authority through the đặc khu (u000, which has one)."""
    recipient_part = key.rsplit("|", 1)[1]
    if recipient_part.startswith("unit:"):
        return recipient_part.removeprefix("unit:") in EMAIL
    return recipient_part.startswith("commune:")


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite file in memory-backed /dev/shm when there is one (3,000 sends, each a few commits)."""
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path
    with tempfile.TemporaryDirectory(dir=base) as d:
        yield f"sqlite:///{Path(d) / 'notifications.db'}"


def test_one_simulated_year_sends_exactly_the_expected_reminders(database_url: str) -> None:
    engine = create_engine(database_url)
    app = Notifications(database_url, engine=engine)
    clock = FakeClock(datetime(YEAR, 1, 1, 8, 0, tzinfo=ICT))
    with smtp_server() as (sink, port):
        scanner = Scanner(app, engine, load_calendar_set(),
                          {"email": EmailChannel("127.0.0.1", port, "antt@bachlongvi.test"), "nats": NatsChannel()},
                          clock)
        for uid, utype in UNITS.items():
            register_unit(engine, uid, uid.upper(), utype, PROVINCE, COMMUNE,
                          email=f"{uid}@bachlongvi.test" if uid in EMAIL else "")
        sent_on: dict[str, list[date]] = collections.defaultdict(list)
        day = date(YEAR, 1, 1)
        while day.year == YEAR:
            # Facts of the day arrive before the 08:00 scan.
            for uid in [u for u, d in REGISTERED.items() if d == day]:
                case_registered(engine, uid, YEAR, PROVINCE, COMMUNE)
            for uid in [u for u, d in CLOSED.items() if d == day]:
                close_unit(engine, uid, uid.upper(), PROVINCE, COMMUNE)
            clock.set(datetime.combine(day, time(8, 0), tzinfo=ICT))
            result = scanner.scan()
            assert result.failed == 0
            for key in result.sent_keys:
                sent_on[key].append(day)
            day += timedelta(days=1)
        emails = sink.keys()

    expected = expected_reminders()
    reminders = {k: v for k, v in sent_on.items() if not k.startswith("digest/")}
    assert {k: v[0] for k, v in reminders.items()} == expected          # the right ones, on the right day
    assert all(len(days) == 1 for days in sent_on.values())              # none twice
    early = {u for u, d in REGISTERED.items() if d == date(2026, 1, 5)}
    assert not [k for k in reminders if k.startswith(f"{YEAR}/registration/") and subject(k) in early]
    assert {k for k in sent_on if k.startswith("digest/")} == expected_digests()
    # Every email arrived once, and only the ones that go by email.
    want_email = {k for k in expected if email_goes_to(k)} | {k for k in expected_digests() if "commune:" in k}
    assert set(emails) == want_email
    assert set(emails.values()) == {1}
    # Closed units got nothing after their closure; the ledger agrees with what was sent.
    assert not [k for k, d in reminders.items() if subject(k) in CLOSED and d[0] >= date(2026, 3, 1)]
    with engine.connect() as conn:
        statuses = collections.Counter(r[0] for r in conn.execute(sa.select(deliveries.c.status)))
    assert statuses == {"sent": len(sent_on)}
    assert app.verify_chains() == []

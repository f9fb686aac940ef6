"""The per-unit iCalendar feed: RFC 5545 lines (CRLF, 75-octet folding, escaping), UIDs, dates, states."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from antt.eventstore.persistence import create_engine
from services.notifications import feed, projections, queries
from services.notifications.calendars import load_calendar_set
from services.notifications.domain import ical
from services.notifications.domain.errors import JurisdictionRequiredError, UnitNotFoundError
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.schedule import UnitRef, unit_obligations
from tests.unit.notifications.helpers import case_registered, close_unit, register_unit

pytestmark = pytest.mark.unit

ICT = timezone(timedelta(hours=7))
STAMP = datetime(2033, 1, 10, 8, 0, tzinfo=ICT)
TRICKY = "Tổ 3, khu A; ấp \\Bắc\nvà \"Nam\""


def unescape(value: str) -> str:
    """Inverse of TEXT escaping, written independently of the code under test."""
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            assert ch not in ",;" and ch != "\n", f"unescaped {ch!r} in {value!r}"
            out.append(ch)
            i += 1
    return "".join(out)


def parse(body: str) -> list[tuple[str, dict[str, str], str]]:
    """Checks the physical lines (CRLF, <= 75 octets, whole UTF-8), unfolds them, splits name;params:value."""
    assert body.endswith("\r\n")
    physical = body.encode("utf-8").split(b"\r\n")[:-1]
    for raw in physical:
        assert len(raw) <= 75, raw
        raw.decode("utf-8")  # no character split across a fold
        assert b"\r" not in raw and b"\n" not in raw
    logical: list[str] = []
    for raw in physical:
        text = raw.decode("utf-8")
        if text.startswith((" ", "\t")):
            logical[-1] += text[1:]
        else:
            logical.append(text)
    parsed = []
    for line in logical:
        head, _, value = line.partition(":")
        name, *params = head.split(";")
        parsed.append((name, dict(p.split("=", 1) for p in params), value))
    return parsed


def events(body: str) -> list[dict[str, str]]:
    """The VEVENTs as property -> raw value."""
    found: list[dict[str, str]] = []
    for name, params, value in parse(body):
        if name == "BEGIN" and value == "VEVENT":
            found.append({})
        elif found and name not in ("BEGIN", "END") and "END" not in found[-1]:
            found[-1][name] = value
        if name == "END" and value == "VEVENT":
            found[-1]["END"] = "1"
    return found


def _obligations(year: int) -> list:
    unit = UnitRef("u-1", "khu_dan_cu", "11948", "31")
    return unit_obligations(unit, year, load_calendar_set(), WorkingCalendar())


def test_escape_and_fold_round_trip_for_long_vietnamese_text() -> None:
    text = ("Đăng ký thi đua; phong trào, toàn dân \\ bảo vệ an ninh Tổ quốc\n" * 4).strip()
    line = f"DESCRIPTION:{ical.escape_text(text)}"
    folded = ical.fold(line)
    assert folded.count("\r\n ") >= 3
    [(name, _, value)] = parse(folded + "\r\n")
    assert name == "DESCRIPTION" and unescape(value) == text


def test_feed_has_one_event_per_obligation_with_stable_uid_shifted_date_and_escaped_text() -> None:
    obligations = _obligations(2033)
    entries = [ical.CalendarEntry(o, "đang chờ", "pending") for o in obligations]
    body = ical.render(f"Hạn ANTT 2033 — {TRICKY}", TRICKY, entries, STAMP)
    lines = parse(body)
    assert (lines[0][0], lines[0][2]) == ("BEGIN", "VCALENDAR") and (lines[-1][0], lines[-1][2]) == ("END", "VCALENDAR")
    assert ("VERSION", {}, "2.0") in lines
    found = events(body)
    assert len(found) == len(obligations) >= 2
    by_uid = {e["UID"]: e for e in found}
    assert len(by_uid) == len(found)
    for o in obligations:
        e = by_uid[f"{o.key.replace('/', '-')}@{ical.UID_DOMAIN}"]
        assert e["DTSTART"] == o.due.due.strftime("%Y%m%d")
        assert e["DTEND"] == (o.due.due + timedelta(days=1)).strftime("%Y%m%d")
        assert e["DTSTAMP"] == "20330110T010000Z"
        assert unescape(e["SUMMARY"]) == f"Hạn: {o.title_vi} — {TRICKY}"
        description = unescape(e["DESCRIPTION"])
        assert o.title_vi in description and o.title_en in description
    # 31/01/2033 is in the Tết holidays: the registration event sits on the shifted day, and says so.
    registration = by_uid[f"2033-registration-u-1@{ical.UID_DOMAIN}"]
    assert registration["DTSTART"] == "20330207"
    assert "Lùi từ 31/01/2033" in unescape(registration["DESCRIPTION"])
    assert "Moved from 2033-01-31" in unescape(registration["DESCRIPTION"])
    # Same input, same UIDs and bytes: calendar clients update events instead of duplicating them.
    assert ical.render(f"Hạn ANTT 2033 — {TRICKY}", TRICKY, entries, STAMP) == body


def test_unit_feed_lists_pending_deadlines_only_and_obligation_states(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    projections.metadata.create_all(engine)
    register_unit(engine, "u-1", "A,1;\\x", "khu_dan_cu", "31", "11948")
    register_unit(engine, "u-2", "B-2", "khu_dan_cu", "31", "11948")
    register_unit(engine, "u-3", "C-3", "khu_dan_cu", "31", "11948")
    case_registered(engine, "u-2", 2033, "31", "11948")
    close_unit(engine, "u-3", "C-3", "31", "11948")
    calendars, working = load_calendar_set(), WorkingCalendar()
    everything = _obligations(2033)

    body, count = feed.unit_calendar(engine, calendars, working, "u-1", 2033, date(2033, 1, 10), STAMP)
    found = events(body)
    assert count == len(found) == len([o for o in everything if o.due_date >= date(2033, 1, 10)])
    assert unescape(found[0]["SUMMARY"]).endswith("— Đơn vị A,1;\\x")
    later, _ = feed.unit_calendar(engine, calendars, working, "u-1", 2033, date(2033, 2, 8), STAMP)
    assert "2033-registration-u-1@" not in later.replace("\r\n ", "")  # past: no longer upcoming
    registered, _ = feed.unit_calendar(engine, calendars, working, "u-2", 2033, date(2033, 1, 10), STAMP)
    assert "2033-registration-u-2@" not in registered.replace("\r\n ", "")  # satisfied
    assert feed.unit_calendar(engine, calendars, working, "u-3", 2033, date(2033, 1, 10), STAMP)[1] == 0
    with pytest.raises(UnitNotFoundError):
        feed.unit_calendar(engine, calendars, working, "nobody", 2033, date(2033, 1, 10), STAMP)

    views = queries.obligations(engine, calendars, working, 2033, date(2033, 2, 8), commune_code="11948")
    states = {(v.unit.unit_id, v.obligation.rule_id): v.state.value for v in views}
    assert states[("u-1", "registration")] == "overdue"
    assert states[("u-2", "registration")] == "satisfied"
    assert states[("u-3", "registration")] == "not_applicable"
    assert {s for (u, r), s in states.items() if r != "registration" and u == "u-1"} == {"pending"}
    with pytest.raises(JurisdictionRequiredError):
        queries.obligations(engine, calendars, working, 2033, date(2033, 2, 8))

"""A unit's deadlines as an iCalendar feed (RFC 5545), written by hand: escaping, folding, CRLF.

One all-day VEVENT per obligation on its due date (after holiday shifting), with a UID derived
from the obligation key so that a calendar client updates an event instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from services.notifications.domain.schedule import Obligation

CRLF = "\r\n"
MAX_OCTETS = 75  # RFC 5545 §3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break
UID_DOMAIN = "notifications.antt.bocongan.gov.vn"
PRODID = "-//Bo Cong an//ANTT notifications//VI"
CONTENT_TYPE = "text/calendar; charset=utf-8"


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and line breaks."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Folds a content line at 75 octets (never inside a UTF-8 character), with CRLF + space."""
    parts: list[str] = []
    current, size, limit = "", 0, MAX_OCTETS
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            parts.append(current)
            current, size, limit = "", 0, MAX_OCTETS - 1  # the leading space counts
        current += ch
        size += n
    parts.append(current)
    return (CRLF + " ").join(parts)


def uid(obligation_key: str) -> str:
    """Stable UID of an obligation's event (the key has no characters that need escaping but '/')."""
    return f"{obligation_key.replace('/', '-')}@{UID_DOMAIN}"


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _day(d: date) -> str:
    return d.strftime("%Y%m%d")


@dataclass(frozen=True)
class CalendarEntry:
    """An obligation to put in the feed, with its state in both languages."""

    obligation: Obligation
    state_vi: str = ""
    state_en: str = ""


def _description(e: CalendarEntry) -> str:
    o = e.obligation
    vi = [f"{o.title_vi}.", f"Hạn: {o.due.due:%d/%m/%Y}."]
    en = [f"{o.title_en}.", f"Due: {o.due.due.isoformat()}."]
    if o.due.due != o.due.nominal:
        vi.append(f"Lùi từ {o.due.nominal:%d/%m/%Y} vì trùng ngày nghỉ ({o.due.day_off_reason}).")
        en.append(f"Moved from {o.due.nominal.isoformat()}, a day off.")
    elif o.due.flagged:
        vi.append(f"Lưu ý: trùng ngày nghỉ ({o.due.day_off_reason}).")
        en.append("Note: falls on a day off.")
    if e.state_vi:
        vi.append(f"Trạng thái: {e.state_vi}.")
        en.append(f"State: {e.state_en}.")
    vi.append(f"Căn cứ: {o.source}.")
    en.append(f"Calendar: {o.source}.")
    return "\n".join([" ".join(vi), "", " ".join(en)])


def _event(e: CalendarEntry, unit_name: str, stamp: str) -> list[str]:
    o = e.obligation
    summary = f"Hạn: {o.title_vi}" + (f" — {unit_name}" if unit_name else "")
    return [
        "BEGIN:VEVENT",
        f"UID:{uid(o.key)}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{_day(o.due.due)}",
        f"DTEND;VALUE=DATE:{_day(o.due.due + timedelta(days=1))}",
        f"SUMMARY;LANGUAGE=vi:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(_description(e))}",
        f"CATEGORIES:{escape_text(o.kind.value)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def render(calendar_name: str, unit_name: str, entries: Iterable[CalendarEntry], stamp: datetime) -> str:
    """The VCALENDAR text: every line folded and ended by CRLF."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(calendar_name)}", "X-WR-TIMEZONE:Asia/Ho_Chi_Minh"]
    for e in sorted(entries, key=lambda e: (e.obligation.due_date, e.obligation.key)):
        lines += _event(e, unit_name, _stamp(stamp))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)

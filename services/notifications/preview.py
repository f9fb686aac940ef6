"""What a scan at an instant would send, computed the way the scan does it, with nothing claimed or sent."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from antt.grpcx.paging import decode_page_token, encode_page_token, invalid_page_token
from services.notifications.application import deliveries
from services.notifications.domain.due import digest_send_at, due_digests, due_reminders
from services.notifications.facts import digest_message, reminder_message
from services.notifications.scanner import Scanner, snapshot


@dataclass(frozen=True)
class PlannedSend:
    """One message a scan would send."""

    key: str
    notice: str  # "reminder" | "overdue" | "digest"
    offset: str
    recipient: str
    channel: str
    address: str
    unit_id: str
    obligation_key: str
    subject: str
    province_code: str
    commune_code: str
    items: int


@dataclass
class Preview:
    """The sends of a previewed scan, and how many due keys the ledger already has."""

    at: datetime
    sends: list[PlannedSend] = field(default_factory=list)
    already_claimed: int = 0


def preview_at(scanner: Scanner, at: datetime, province_code: str = "", commune_code: str = "") -> Preview:
    """New reminders, notices and digests that a scan at `at` would claim and send (read-only), in key
    order; with a province or commune, only the sends of that area."""
    snap = snapshot(scanner.engine, scanner.calendars, scanner.working, at, scanner.policy)
    reminders = due_reminders(snap.obligations, snap.satisfied, at, scanner.policy)
    digests = due_digests(snap.obligations, snap.satisfied, at, scanner.policy)
    with scanner.engine.connect() as conn:
        known = {r[0] for r in conn.execute(sa.select(deliveries.c.key))}
    result = Preview(at)
    planned = [reminder_message(r, snap, scanner.channels) for r in reminders]
    planned += [digest_message(d, snap, scanner.channels) for d in digests]
    for channel, m in planned:
        if m.key in known:
            result.already_claimed += 1
            continue
        f = m.facts
        if (province_code and f.get("province_code", "") != province_code) or (
                commune_code and f.get("commune_code", "") != commune_code):
            continue
        result.sends.append(PlannedSend(
            key=m.key, notice=f.get("notice", ""), offset=f.get("offset", ""), recipient=f.get("recipient", ""),
            channel=channel, address=m.address, unit_id=f.get("unit_id", ""),
            obligation_key=f.get("obligation", {}).get("obligation_key", ""), subject=m.subject,
            province_code=f.get("province_code", ""), commune_code=f.get("commune_code", ""),
            items=len(f.get("items", []))))
    result.sends.sort(key=lambda p: p.key)
    return result


def send_time(scanner: Scanner, day: date) -> datetime:
    """The instant a scan on `day` previews: the reminders' send time (when that day's stages and digests are due)."""
    return digest_send_at(day, scanner.policy)


def preview_day(scanner: Scanner, day: date) -> Preview:
    """A scan on `day` at the reminders' send time."""
    return preview_at(scanner, send_time(scanner, day))


@dataclass(frozen=True)
class Page:
    """Where a page of a preview starts: the instant previewed and the last key of the previous page."""

    at: datetime
    after: str = ""

    def token(self) -> str:
        """The opaque page token of this position."""
        return encode_page_token(json.dumps({"at": self.at.isoformat(), "after": self.after}, ensure_ascii=False))

    @classmethod
    def parse(cls, token: str) -> Page:
        """A page token back; INVALID_ARGUMENT when it is not one."""
        text = decode_page_token(token)
        try:
            data = json.loads(text)
            at = datetime.fromisoformat(data["at"]) if isinstance(data, dict) else None
            after = data["after"] if isinstance(data, dict) else None
        except (ValueError, KeyError, TypeError):
            at, after = None, None
        if at is None or at.tzinfo is None or not isinstance(after, str):
            raise invalid_page_token()
        return cls(at, after)


def page_of(found: Preview, after: str, size: int) -> tuple[list[PlannedSend], str]:
    """The sends after key `after` (at most `size`) and the last key when more follow ("" on the last page)."""
    start = bisect.bisect_right([p.key for p in found.sends], after) if after else 0
    sends = found.sends[start:start + size]
    more = start + size < len(found.sends)
    return sends, (sends[-1].key if more and sends else "")

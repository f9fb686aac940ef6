"""What a scan at an instant would send, computed the way the scan does it, with nothing claimed or sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

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


def preview_at(scanner: Scanner, at: datetime) -> Preview:
    """New reminders, notices and digests that a scan at `at` would claim and send (read-only)."""
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
        result.sends.append(PlannedSend(
            key=m.key, notice=f.get("notice", ""), offset=f.get("offset", ""), recipient=f.get("recipient", ""),
            channel=channel, address=m.address, unit_id=f.get("unit_id", ""),
            obligation_key=f.get("obligation", {}).get("obligation_key", ""), subject=m.subject,
            province_code=f.get("province_code", ""), commune_code=f.get("commune_code", ""),
            items=len(f.get("items", []))))
    return result


def preview_day(scanner: Scanner, day: date) -> Preview:
    """A scan on `day` at the reminders' send time (when that day's stages and digests become due)."""
    return preview_at(scanner, digest_send_at(day, scanner.policy))

"""What a scan at an instant would send, computed the way the scan does it, with nothing claimed or sent."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from antt.grpcx.paging import decode_page_token, encode_page_token, invalid_page_token
from services.notifications import sweep
from services.notifications.application import LOOKUP_SIZES, existing_keys
from services.notifications.channels import OutgoingMessage
from services.notifications.domain.calendar import Tier
from services.notifications.domain.due import digest_send_at
from services.notifications.domain.schedule import Obligation
from services.notifications.facts import Snapshot, digest_message, route
from services.notifications.projections import UnitRow
from services.notifications.scanner import Scanner
from services.notifications.templates import named_subject, reminder_subject


@dataclass(frozen=True, slots=True)
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


def _planned(channel: str, m: OutgoingMessage) -> PlannedSend:
    f = m.facts
    return PlannedSend(
        key=m.key, notice=f.get("notice", ""), offset=f.get("offset", ""), recipient=f.get("recipient", ""),
        channel=channel, address=m.address, unit_id=f.get("unit_id", ""),
        obligation_key=f.get("obligation", {}).get("obligation_key", ""), subject=m.subject,
        province_code=f.get("province_code", ""), commune_code=f.get("commune_code", ""),
        items=len(f.get("items", [])))


def preview_at(scanner: Scanner, at: datetime, province_code: str = "", commune_code: str = "") -> Preview:
    """New reminders, notices and digests that a scan at `at` would claim and send (read-only), in key
    order; with a province or commune, only the sends of that area.

    Computed commune by commune from SQL as the scan does (`sweep.areas`); province and Ministry digests
    need every commune's overdue items, so with a jurisdiction only its communes are read and those
    digests are then limited to what the jurisdiction itself holds.
    """
    result = Preview(at)
    result.already_claimed = _sends(scanner, at, province_code, commune_code, result.sends.append)
    result.sends.sort(key=lambda p: p.key)
    return result


def listing_at(scanner: Scanner, at: datetime, province_code: str = "", commune_code: str = "") -> Listing:
    """`preview_at` kept packed for paging: the same sends in the same order, each one bytes object
    (≈ 0.4 KB a send; as `PlannedSend` objects ≈ 0.9 KB, 300 MB for the national preview)."""
    packed: list[bytes] = []
    claimed = _sends(scanner, at, province_code, commune_code, packed.append, packed=True)
    # Sorting the bytes sorts by key: a key is their prefix up to a NUL, which sorts below every character
    # a key holds, and UTF-8 bytes sort as their code points.
    packed.sort()
    return Listing(at, packed, claimed)


@dataclass
class Listing:
    """A previewed scan's sends packed in key order (see `listing_at`), served page by page."""

    at: datetime
    packed: list[bytes]
    already_claimed: int = 0

    @property
    def total(self) -> int:
        """How many sends."""
        return len(self.packed)

    def page(self, after: str, size: int) -> tuple[list[PlannedSend], str]:
        """`page_of` of the same preview: the sends after key `after` (at most `size`), and the last key when
        more follow ("" on the last page)."""
        rows, last = self.fields(after, size)
        return [PlannedSend(*r[:-1], items=int(r[-1])) for r in rows], last

    def fields(self, after: str, size: int) -> tuple[list[list[str]], str]:
        """`page` as each send's fields in `PlannedSend`'s order (`items` as text), without the objects."""
        start = bisect.bisect_right(self.packed, after.encode(), key=_key_of) if after else 0
        rows = [_fields(b) for b in self.packed[start:start + size]]
        more = start + size < len(self.packed)
        return rows, (rows[-1][0] if more and rows else "")


def _packed(p: PlannedSend) -> bytes:
    """A send as its key and its other fields, NUL-separated (as JSON after the key's NUL when a field holds
    a NUL itself: PostgreSQL stores none, SQLite could)."""
    if "\x00" in p.key:
        raise ValueError(f"a reminder key holds NUL: {p.key!r}")  # PostgreSQL could not store it either
    rest = [p.notice, p.offset, p.recipient, p.channel, p.address, p.unit_id, p.obligation_key, p.subject,
            p.province_code, p.commune_code, str(p.items)]
    text = "\x00".join(rest)
    if text.count("\x00") != _FIELDS - 1:
        text = json.dumps(rest)  # escapes every NUL: one part after the key instead of _FIELDS
    return f"{p.key}\x00{text}".encode()


_FIELDS = 11  # fields after the key


def _key_of(packed: bytes) -> bytes:
    return packed[:packed.index(b"\x00")]


def _fields(packed: bytes) -> list[str]:
    """The key and the other fields of a packed send (`items` as text)."""
    parts = packed.decode().split("\x00")
    if len(parts) != _FIELDS + 1:
        parts = [parts[0], *json.loads(parts[1])]  # JSON escapes every NUL: the key's is the only one
    return parts


def _sends(scanner: Scanner, at: datetime, province_code: str, commune_code: str,
           emit: Callable[[Any], None], packed: bool = False) -> int:
    """Emit each send of a preview at `at` (in the order computed), as a `PlannedSend` or with `packed` as
    `_packed` of it; how many due keys are claimed already."""
    claimed = 0
    rest: list[Obligation] = []
    rest_units: dict[str, UnitRow] = {}

    def add(conn: sa.Connection, planned: list[tuple[str, OutgoingMessage]]) -> None:
        nonlocal claimed
        known = existing_keys(conn, [m.key for _, m in planned]) if planned else set()
        for channel, m in planned:
            if m.key in known:
                claimed += 1
                continue
            f = m.facts
            if (province_code and f.get("province_code", "") != province_code) or (
                    commune_code and f.get("commune_code", "") != commune_code):
                continue
            p = _planned(channel, m)
            emit(_packed(p) if packed else p)

    def add_notices(area: sweep.Area, known: set[str]) -> None:
        # What `reminder_message` would say, without building each reminder and its body (the preview
        # lists the subject only): tests/integration/test_notifications_sweep.py compares the two.
        nonlocal claimed
        authorities: dict[str, tuple[str, str]] = {}  # an authority's route, once per commune (not per notice)
        subjects: dict[int, tuple[sweep.Stage, str, str, str]] = {}  # a stage's subject and kind, once per stage
        channels = scanner.channels
        for n in area.due:
            if n.key in known:
                claimed += 1
                continue
            unit, stage = n.unit, n.stage
            if stage.to_unit:
                # No contact: `route` answers the NATS channel without an address (this runs once per notice).
                channel, address = (("nats", "") if not (unit.contact_webhook or unit.contact_email)
                                    else route(unit, channels))
            else:
                found = authorities.get(n.recipient_label)
                if found is None:
                    found = authorities[n.recipient_label] = route(area.snap.contact(n.recipient), channels)
                channel, address = found
            shared = subjects.get(id(stage))
            if shared is None or shared[0] is not stage:
                base = stage.base
                shared = subjects[id(stage)] = (stage, reminder_subject(base), base.kind.value, base.offset)
            _, stage_subject, notice, offset = shared
            subject = named_subject(stage_subject, unit.name)
            if packed:
                # `_packed` of the same send, without the object: its fields NUL-separated after the key
                text = (f"{n.key}\x00{notice}\x00{offset}\x00{n.recipient_label}\x00{channel}\x00{address}\x00"
                        f"{unit.unit_id}\x00{n.key.split('|', 1)[0]}\x00{subject}\x00{unit.province_code}\x00"
                        f"{unit.commune_code}\x000")
                if text.count("\x00") == _FIELDS:
                    emit(text.encode())
                    continue
            p = PlannedSend(key=n.key, notice=notice, offset=offset, recipient=n.recipient_label, channel=channel,
                            address=address, unit_id=unit.unit_id, obligation_key=n.key.split("|", 1)[0],
                            subject=subject, province_code=unit.province_code, commune_code=unit.commune_code, items=0)
            emit(_packed(p) if packed else p)

    waiting: list[sweep.Area] = []  # communes whose notices wait for one look-up of their keys together
    waiting_notices = 0

    def add_waiting(conn: sa.Connection) -> None:
        nonlocal waiting_notices
        keys = [n.key for area in waiting for n in area.due]
        known = existing_keys(conn, keys) if keys else set()
        for area in waiting:
            add_notices(area, known)
        waiting.clear()
        waiting_notices = 0

    scope = province_code if not commune_code else ""
    # One connection for the ledger's look-ups of the whole preview (a checkout per commune cost more).
    with scanner.engine.connect() as conn:
        for area in sweep.areas(scanner.engine, scanner.calendars, scanner.working, at, scanner.policy, scope,
                                commune_code):
            if (not province_code or area.province_code == province_code) and area.due:
                # The keys of several communes looked up together (a commune has ≈ 100 notices: a look-up each
                # was ≈ 330 statements at S = 0.1); the sends are sorted by key in the end.
                waiting.append(area)
                waiting_notices += len(area.due)
                if waiting_notices >= LOOKUP_SIZES[-1]:
                    add_waiting(conn)
            planned = [digest_message(d, area.snap, scanner.channels)
                       for d in sweep.digests_of(area.overdue, at, scanner.policy, (Tier.COMMUNE,))]
            for o in area.overdue:
                if o.escalate_to.tier is not Tier.COMMUNE:
                    rest.append(o)
                    rest_units[o.subject] = area.snap.units[o.subject]
            add(conn, planned)
        add_waiting(conn)
        snap = Snapshot(units=rest_units, obligations=[], satisfied=set())
        add(conn, [digest_message(d, snap, scanner.channels)
                   for d in sweep.digests_of(rest, at, scanner.policy, (Tier.PROVINCE, Tier.MINISTRY))])
    return claimed


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

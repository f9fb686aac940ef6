"""The scan: at the scheduler clock's instant, find what is due, claim it, send it, record the outcome.

What is due comes from `sweep.areas`, one commune at a time. E-mail and webhook notices go claim →
send → record, one by one: a claim is a unique write in the event store, so a reminder key is sent
by one worker only, across restarts and replicas. A claim that was never handed over (its worker
crashed before the channel's commit point) is taken over after the lease; a failed attempt is
retried after its backoff, up to `max_attempts`. Event-only notices are claimed in bulk and stored
as chunk events (`Notifications.claim_notices`). `snapshot` is the former all-in-memory computation,
kept as the reference the streamed one is tested against.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt import metrics
from services.notifications import projections
from services.notifications import sweep
from services.notifications.application import (BULK_NOTICES, OPEN_ROWS, BulkNotice, Notifications, deliveries,
                                                existing_keys)
from services.notifications.channels import Channel, ChannelError, HandOverRefused, NatsChannel, OutgoingMessage
from services.notifications.clock import Clock
from services.notifications.domain.calendar import CalendarSet, Tier
from services.notifications.domain.due import DEFAULT_DUE, DuePolicy, horizon
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.ledger import DeliveryStatus, ReminderDelivery
from services.notifications.domain.schedule import Obligation, UnitRef, for_subject, unit_obligations
from services.notifications.facts import Snapshot, digest_message, obligation_facts, reminder_message, route

log = logging.getLogger(__name__)
_TEMPLATE = "template"  # stand-in unit id: obligations depend on type, commune and year only
# Event-only notices are handed to `claim_notices` some batches at a time: a batch's pending record is
# deleted in the next batch's claim transaction, so only the last batch of a call costs a commit more.
FLUSH_BATCHES = 2


@dataclass
class ScanResult:
    """What one scan did."""

    at: datetime
    due: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    sent_keys: list[str] = field(default_factory=list)


def snapshot(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, now: datetime,
             policy: DuePolicy = DEFAULT_DUE, province_code: str = "", commune_code: str = "") -> Snapshot:
    """Open units, their obligations whose due date may matter at `now`, and which are satisfied."""
    first, last = horizon(now, policy)
    years = tuple(range(first.year, last.year + 1))
    with engine.connect() as conn:
        units = list(projections.iter_units(conn, province_code, commune_code))
        facts = projections.satisfied_facts(conn, years)
    obligations: list[Obligation] = []
    satisfied: set[str] = set()
    groups: dict[tuple[str, str, str], list[projections.UnitRow]] = {}
    for u in units:
        groups.setdefault((u.province_code, u.commune_code, u.unit_type), []).append(u)
    for (province, commune, unit_type), members in groups.items():
        for year in years:
            templates = [o for o in unit_obligations(UnitRef(_TEMPLATE, unit_type, commune, province), year,
                                                     calendars, working) if first <= o.due_date <= last]
            for u in members:
                for t in templates:
                    o = for_subject(t, u.unit_id)
                    obligations.append(o)
                    if (u.unit_id, year, o.kind.value) in facts or (u.unit_id, year, projections.ALL_KINDS) in facts:
                        satisfied.add(o.key)
    return Snapshot(units={u.unit_id: u for u in units}, obligations=obligations, satisfied=satisfied)


class Scanner:
    """Runs scans for one worker (one process or replica)."""

    def __init__(self, app: Notifications, engine: Engine, calendars: CalendarSet, channels: Mapping[str, Channel],
                 clock: Clock, *, worker_id: str = "", policy: DuePolicy = DEFAULT_DUE,
                 working: WorkingCalendar | None = None, claim_lease: timedelta = timedelta(seconds=120),
                 max_attempts: int = 5, retry_base: timedelta = timedelta(seconds=30),
                 bulk: int = BULK_NOTICES) -> None:
        self.app = app
        self.engine = engine
        self.calendars = calendars
        self.channels = dict(channels)
        self.clock = clock
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.policy = policy
        self.working = working or WorkingCalendar()
        self.claim_lease = claim_lease
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.bulk = bulk  # event-only notices claimed per transaction
        self._lock = threading.Lock()
        projections.ensure_schema(engine)

    def scan(self) -> ScanResult:
        """One scan at the clock's instant: new reminders and digests first, then open deliveries."""
        with self._lock:  # the scheduler and an operator's RunScan take turns in one process
            return self._scan()

    def _scan(self) -> ScanResult:
        now = self.clock.now()
        result = ScanResult(at=now)
        self.app.store_pending()  # chunks a crashed scan claimed but did not store
        rest: list[Obligation] = []  # overdue items of province and Ministry supervisors (across communes)
        rest_units: dict[str, projections.UnitRow] = {}
        bulk: list[BulkNotice] = []
        groups: dict[int, tuple[Any, tuple[str, str, str]]] = {}
        for area in sweep.areas(self.engine, self.calendars, self.working, now, self.policy):
            digests = sweep.digests_of(area.overdue, now, self.policy, (Tier.COMMUNE,))
            for o in area.overdue:
                if o.escalate_to.tier is not Tier.COMMUNE:
                    rest.append(o)
                    rest_units[o.subject] = area.snap.units[o.subject]
            result.due += len(area.due) + len(digests)
            one_by_one = []
            authorities: dict[str, str] = {}  # an authority's channel, routed once per commune (not per notice)
            nats, channels = NatsChannel.name, self.channels
            add = bulk.append
            for n in area.due:
                stage = n.stage
                if stage.to_unit:
                    u = n.unit
                    if not (u.contact_webhook or u.contact_email):
                        # No contact: `route` answers the NATS channel whatever the channels; this line runs
                        # once per notice, so the bulk notice is made here (as `_bulk` does) without a call more.
                        add(BulkNotice(n.key, u.unit_id, n.recipient_label, u.province_code, u.commune_code,
                                       stage.bulk_group or _bulk_group(stage, groups)))
                        continue
                    channel = route(u, channels)[0]
                else:
                    channel = authorities.get(n.recipient_label, "")
                    if not channel:
                        channel = authorities[n.recipient_label] = route(area.snap.contact(n.recipient), channels)[0]
                if channel == nats:
                    bulk.append(_bulk(n, groups))
                else:
                    one_by_one.append(reminder_message(n.reminder(), area.snap, self.channels))
            one_by_one += [digest_message(d, area.snap, self.channels) for d in digests]
            self._send_each(one_by_one, now, result)
            if len(bulk) >= self.bulk * FLUSH_BATCHES:
                # Whole batches only (a batch cut short costs a commit of its own); the rest waits for more.
                whole = len(bulk) - len(bulk) % self.bulk
                self._send_bulk(bulk[:whole], now, result)
                bulk = bulk[whole:]
        self._send_bulk(bulk, now, result)
        digests = sweep.digests_of(rest, now, self.policy, (Tier.PROVINCE, Tier.MINISTRY))
        result.due += len(digests)
        snap = Snapshot(units=rest_units, obligations=[], satisfied=set())
        self._send_each([digest_message(d, snap, self.channels) for d in digests], now, result)
        for key in self._open_keys():
            self._retry(key, result)
        return result

    def _send_bulk(self, bulk: list[BulkNotice], now: datetime, result: ScanResult) -> None:
        """Event-only notices: claimed and recorded sent in bulk (the keys met before are left out)."""
        keys = self.app.claim_notices(bulk, self.worker_id, now, batch=self.bulk)
        metrics.REMINDERS_SENT.labels(NatsChannel.name).inc(len(keys))
        result.sent += len(keys)
        result.sent_keys.extend(keys)

    def _send_each(self, messages: list[tuple[str, OutgoingMessage]], now: datetime, result: ScanResult) -> None:
        """Messages by e-mail or webhook (and event-only digests): claimed, sent and recorded one by one."""
        if not messages:
            return
        known = self._known_keys([m.key for _, m in messages])
        messages = [(c, m) for c, m in messages if m.key not in known]
        # Event-only digests are claimed and recorded sent in one write each chunk; the others one by one.
        outbox = [(m.key, c, self.worker_id, now, _stored(m)) for c, m in messages if c == NatsChannel.name]
        for delivery in self.app.claim_sent(outbox, "outbox"):
            if delivery is None:
                result.skipped += 1
            else:
                self._count_sent(delivery, result)
        for channel, message in messages:
            if channel == NatsChannel.name:
                continue
            delivery = self.app.claim(message.key, channel, self.worker_id, now, _stored(message))
            if delivery is None:
                result.skipped += 1
            else:
                self._attempt(delivery, result)

    def _known_keys(self, keys: list[str]) -> set[str]:
        """Which of these keys the ledger's listing has already."""
        with self.engine.connect() as conn:
            return existing_keys(conn, keys)

    def _open_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            q = sa.select(deliveries.c.key).where(OPEN_ROWS).order_by(deliveries.c.key)
            return [r[0] for r in conn.execute(q)]

    def _retry(self, key: str, result: ScanResult) -> None:
        now = self.clock.now()
        delivery = self.app.get_delivery(key)
        if delivery is None or delivery.settled:
            self.app.refresh_row(key)
            return
        if delivery.status is DeliveryStatus.HANDED_OVER:
            # Handed over and never reconciled: its worker died after the commit point. Never resend.
            if now - delivery.handed_over_at >= self.claim_lease:
                self.app.mark_sent(delivery, now, "handed over before its worker stopped; not sent again")
            return
        if delivery.attempts:
            if now < delivery.retry_at(self.retry_base):
                return
        elif now - delivery.claimed_at < self.claim_lease:
            return  # claimed by a worker that may still be sending
        taken = self.app.take_over(key, self.worker_id, now)
        if taken is not None:
            self._attempt(taken, result)

    def _attempt(self, delivery: ReminderDelivery, result: ScanResult) -> None:
        channel = self.channels[delivery.channel]
        message = OutgoingMessage(delivery.key, delivery.message.get("address", ""), delivery.message["subject"],
                                  delivery.message["body"], delivery.message.get("facts", {}))

        def hand_over() -> None:
            if not self.app.hand_over(delivery, self.clock.now()):
                raise HandOverRefused(delivery.key)

        try:
            receipt = channel.send(message, hand_over)
        except HandOverRefused:
            result.skipped += 1
            return
        except ChannelError as exc:
            metrics.REMINDERS_FAILED.labels(channel.name).inc()
            result.failed += 1
            log.warning("reminder %s via %s failed (attempt %d): %s", delivery.key, channel.name,
                        delivery.attempts + 1, exc)
            self.app.record_failure(delivery, self.clock.now(), str(exc), self.max_attempts)
            return
        if self.app.mark_sent(delivery, self.clock.now(), receipt):
            self._count_sent(delivery, result)

    @staticmethod
    def _count_sent(delivery: ReminderDelivery, result: ScanResult) -> None:
        metrics.REMINDERS_SENT.labels(delivery.channel).inc()
        result.sent += 1
        result.sent_keys.append(delivery.key)


_SHARED = ("year", "rule_id", "kind", "title_vi", "title_en", "due_date", "nominal_due_date", "flagged")


def _bulk(n: sweep.DueNotice, groups: dict[int, tuple[Any, tuple[str, str, str]]]) -> BulkNotice:
    """A due notice for the bulk claim, with the facts its stage's notices share."""
    u, stage = n.unit, n.stage
    return BulkNotice(n.key, u.unit_id, n.recipient_label, u.province_code, u.commune_code,
                      stage.bulk_group or _bulk_group(stage, groups))


def _bulk_group(stage: sweep.Stage, groups: dict[int, tuple[Any, tuple[str, str, str]]]) -> tuple[str, str, str]:
    """The facts the bulk notices of a stage share: those of its template (computed once per base stage:
    `groups` maps its id to it and them; parties are not among them), kept on the stage for its next notices."""
    base = stage.base
    found = groups.get(id(base))
    if found is None or found[0] is not base:
        facts = obligation_facts(base.obligation)
        shared = json.dumps({k: facts[k] for k in _SHARED}, sort_keys=True, ensure_ascii=False)
        found = groups[id(base)] = (base, (base.kind.value, base.offset, shared))
    stage.bulk_group = found[1]
    return found[1]


def _stored(message: OutgoingMessage) -> dict[str, Any]:
    return {"address": message.address, "subject": message.subject, "body": message.body, "facts": message.facts}


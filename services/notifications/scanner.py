"""The scan: at the scheduler clock's instant, find what is due, claim it, send it, record the outcome.

claim → send → record, per reminder. A claim is a unique write in the event store, so a reminder
key is sent by one worker only, across restarts and replicas. A claim that was never handed over
(its worker crashed before the channel's commit point) is taken over after the lease; a failed
attempt is retried after its backoff, up to `max_attempts`.
"""

from __future__ import annotations

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
from services.notifications.application import Notifications, deliveries
from services.notifications.channels import Channel, ChannelError, HandOverRefused, NatsChannel, OutgoingMessage
from services.notifications.clock import Clock
from services.notifications.domain.calendar import CalendarSet
from services.notifications.domain.due import DEFAULT_DUE, DuePolicy, due_digests, due_reminders, horizon
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.ledger import DeliveryStatus, ReminderDelivery
from services.notifications.domain.schedule import Obligation, UnitRef, for_subject, unit_obligations
from services.notifications.facts import Snapshot, digest_message, reminder_message

log = logging.getLogger(__name__)
_TEMPLATE = "template"  # stand-in unit id: obligations depend on type, commune and year only


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
                 max_attempts: int = 5, retry_base: timedelta = timedelta(seconds=30)) -> None:
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
        self._lock = threading.Lock()
        projections.metadata.create_all(engine)

    def scan(self) -> ScanResult:
        """One scan at the clock's instant: new reminders and digests first, then open deliveries."""
        with self._lock:  # the scheduler and an operator's RunScan take turns in one process
            return self._scan()

    def _scan(self) -> ScanResult:
        now = self.clock.now()
        result = ScanResult(at=now)
        snap = snapshot(self.engine, self.calendars, self.working, now, self.policy)
        reminders = due_reminders(snap.obligations, snap.satisfied, now, self.policy)
        digests = due_digests(snap.obligations, snap.satisfied, now, self.policy)
        result.due = len(reminders) + len(digests)
        known = self._known_keys()
        messages = [reminder_message(r, snap, self.channels) for r in reminders if r.key not in known]
        messages += [digest_message(d, snap, self.channels) for d in digests if d.key not in known]
        # Event-only notices are claimed and recorded sent in chunks (one write each); the others one by one.
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
        for key in self._open_keys():
            self._retry(key, result)
        return result

    def _known_keys(self) -> set[str]:
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.select(deliveries.c.key))}

    def _open_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            q = sa.select(deliveries.c.key).where(deliveries.c.status.in_(
                [DeliveryStatus.CLAIMED.value, DeliveryStatus.HANDED_OVER.value])).order_by(deliveries.c.key)
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


def _stored(message: OutgoingMessage) -> dict[str, Any]:
    return {"address": message.address, "subject": message.subject, "body": message.body, "facts": message.facts}


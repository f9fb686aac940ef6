"""What is due at an instant: the current reminder stage of each open obligation, and escalation digests.

A reminder stage (D-14, D-7, D-1, overdue) is current from its send time until the next stage's;
a scan sends only current stages, so a service that was down does not flood a unit with every
missed stage. The overdue notice stays current for `overdue_window_days`, then the obligation is
left to the supervisors' digests.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.notifications.domain.schedule import (
    DEFAULT_REMINDERS,
    VIETNAM,
    EscalationDigest,
    NoticeKind,
    Obligation,
    Reminder,
    ReminderPolicy,
    escalation_digests,
    reminders_for,
)


@dataclass(frozen=True)
class DuePolicy:
    """Reminder offsets plus how long an overdue obligation keeps its notice and digests."""

    reminders: ReminderPolicy = DEFAULT_REMINDERS
    overdue_window_days: int = 30


DEFAULT_DUE = DuePolicy()


def current_stage(obligation: Obligation, now: datetime, policy: DuePolicy = DEFAULT_DUE) -> Reminder | None:
    """The reminder stage of an obligation that is current at `now`, or None (too early or too late)."""
    current = None
    for reminder in reminders_for(obligation, policy.reminders):
        if reminder.send_at <= now:
            current = reminder
    if current is None:
        return None
    if current.kind is NoticeKind.OVERDUE and now - current.send_at >= timedelta(days=policy.overdue_window_days):
        return None
    return current


def horizon(now: datetime, policy: DuePolicy = DEFAULT_DUE) -> tuple[date, date]:
    """Due dates an obligation may have for one of its stages to be current at `now`."""
    today = now.astimezone(VIETNAM).date()
    back = policy.overdue_window_days + policy.reminders.overdue_after_days + 1
    return today - timedelta(days=back), today + timedelta(days=max(policy.reminders.offsets) + 1)


def due_reminders(obligations: Iterable[Obligation], satisfied: Collection[str], now: datetime,
                  policy: DuePolicy = DEFAULT_DUE) -> list[Reminder]:
    """The current stage of every unsatisfied obligation, by send time then key."""
    found = [r for o in obligations if o.key not in satisfied
             for r in [current_stage(o, now, policy)] if r is not None]
    return sorted(found, key=lambda r: (r.send_at, r.key))


def digest_send_at(as_of: date, policy: DuePolicy = DEFAULT_DUE) -> datetime:
    """When the digests of a day go out: the reminders' send time."""
    return datetime.combine(as_of, policy.reminders.send_time, tzinfo=VIETNAM)


def due_digests(obligations: Iterable[Obligation], satisfied: Collection[str], now: datetime,
                policy: DuePolicy = DEFAULT_DUE) -> list[EscalationDigest]:
    """Today's digests: for each supervisor with an obligation that became overdue today, every overdue item.

    An obligation becomes overdue on the day of its overdue notice; items older than the overdue
    window are left out.
    """
    today = now.astimezone(VIETNAM).date()
    if now < digest_send_at(today, policy):
        return []
    oldest = today - timedelta(days=policy.overdue_window_days + policy.reminders.overdue_after_days)
    recent = [o for o in obligations if oldest <= o.due_date]
    digests = escalation_digests(recent, satisfied, today)
    newly = today - timedelta(days=policy.reminders.overdue_after_days)
    return [d for d in digests if any(o.due_date == newly for o in d.items)]

"""Obligations of a unit or authority in a year, the reminders they call for, and escalation digests.

Pure functions: the registry replica, the calendars and the set of satisfied obligation keys are
passed in; nothing here reads a clock or a database.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone

from services.notifications.domain.calendar import (
    COMMUNE_UNIT_TYPE,
    CalendarSet,
    DeadlineRule,
    DueDate,
    ObligationKind,
    ResolvedDeadline,
    Tier,
)
from services.notifications.domain.errors import InvalidReminderOffsetError
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.ledger import reminder_key

VIETNAM = timezone(timedelta(hours=7), "ICT")
MINISTRY_CODE = "BCA"


@dataclass(frozen=True)
class Party:
    """Someone who owes, is owed or supervises: a unit (by id) or an authority (by official area code)."""

    tier: Tier
    code: str

    def __str__(self) -> str:
        return f"{self.tier.key_label}:{self.code}"


@dataclass(frozen=True)
class UnitRef:
    """What the schedule needs to know about a unit from the registry replica."""

    unit_id: str
    unit_type: str
    commune_code: str
    province_code: str
    open: bool = True


@dataclass(frozen=True)
class Obligation:
    """One party owes one thing by one date; `subject` is the unit it concerns (or the party itself)."""

    key: str
    year: int
    rule_id: str
    kind: ObligationKind
    title_vi: str
    title_en: str
    subject: str
    owing: Party
    recipient: Party
    escalate_to: Party
    due: DueDate
    source: str

    @property
    def due_date(self) -> date:
        """The date that counts (after shifting; the nominal date when flagged)."""
        return self.due.due


def obligation_key(year: int, rule_id: str, subject: str) -> str:
    """Stable identity of an obligation: year, deadline id and the unit or party it concerns."""
    return f"{year}/{rule_id}/{subject}"


def _party(tier: Tier, unit_id: str, commune_code: str, province_code: str) -> Party:
    if tier is Tier.UNIT:
        return Party(tier, unit_id)
    if tier is Tier.COMMUNE:
        return Party(tier, commune_code)
    return Party(tier, province_code if tier is Tier.PROVINCE else MINISTRY_CODE)


def for_subject(template: Obligation, unit_id: str) -> Obligation:
    """The same obligation about another unit of the same type and commune (cheap: no calendar lookup)."""
    def swap(p: Party) -> Party:
        return Party(p.tier, unit_id) if p.tier is Tier.UNIT else p

    return replace(template, key=obligation_key(template.year, template.rule_id, unit_id), subject=unit_id,
                   owing=swap(template.owing), recipient=swap(template.recipient),
                   escalate_to=swap(template.escalate_to))


def _supervisor_tier(tier: Tier, unit_type: str) -> Tier:
    """A unit answers to its commune (a commune, as a unit, to its province); each tier to the next."""
    if tier is Tier.UNIT:
        return Tier.PROVINCE if unit_type == COMMUNE_UNIT_TYPE else Tier.COMMUNE
    return {Tier.COMMUNE: Tier.PROVINCE, Tier.PROVINCE: Tier.MINISTRY, Tier.MINISTRY: Tier.MINISTRY}[tier]


def _rank(tier: Tier, unit_type: str) -> int:
    return Tier.COMMUNE.rank if tier is Tier.UNIT and unit_type == COMMUNE_UNIT_TYPE else tier.rank


def _obligation(resolved: ResolvedDeadline, subject: str, unit_type: str, commune: str, province: str,
                working: WorkingCalendar) -> Obligation:
    rule: DeadlineRule = resolved.rule
    owing_tier = rule.owing_tier
    recipient_tier = rule.recipient_tier or _supervisor_tier(owing_tier, unit_type)
    escalate_tier = rule.escalate_to or (
        recipient_tier if _rank(recipient_tier, unit_type) > _rank(owing_tier, unit_type)
        else _supervisor_tier(owing_tier, unit_type))
    return Obligation(
        key=obligation_key(resolved.year, rule.id, subject), year=resolved.year, rule_id=rule.id, kind=rule.kind,
        title_vi=rule.title_vi, title_en=rule.title_en, subject=subject,
        owing=_party(owing_tier, subject, commune, province),
        recipient=_party(recipient_tier, subject, commune, province),
        escalate_to=_party(escalate_tier, subject, commune, province),
        due=resolved.due_date(working),
        source=f"{resolved.scope.value}:{resolved.scope_code or 'VN'} v{resolved.version}",
    )


def unit_obligations(unit: UnitRef, year: int, calendars: CalendarSet, working: WorkingCalendar) -> list[Obligation]:
    """Every obligation that concerns a unit in a year (its own and its authorities' about it); none if closed."""
    if not unit.open:
        return []
    return [_obligation(d, unit.unit_id, unit.unit_type, unit.commune_code, unit.province_code, working)
            for d in calendars.deadlines(unit.province_code, unit.commune_code, year)
            if unit.unit_type in d.rule.unit_types]


def authority_obligations(tier: Tier, province_code: str, commune_code: str, year: int, calendars: CalendarSet,
                          working: WorkingCalendar) -> list[Obligation]:
    """An authority's own obligations in a year (deadlines that are not per unit)."""
    subject = str(_party(tier, "", commune_code, province_code))
    return [_obligation(d, subject, "", commune_code, province_code, working)
            for d in calendars.deadlines(province_code, commune_code, year)
            if not d.rule.per_unit and d.rule.owing_tier is tier]


class NoticeKind(enum.Enum):
    """A reminder before the deadline, or the notice that it has passed."""

    REMINDER = "reminder"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReminderPolicy:
    """When to remind: whole days before the due date, the local send time, days after for the overdue notice."""

    offsets: tuple[int, ...] = (14, 7, 1)
    send_time: time = time(8, 0)
    overdue_after_days: int = 1

    def __post_init__(self) -> None:
        if any(not isinstance(o, int) or o < 1 for o in self.offsets) or len(set(self.offsets)) != len(self.offsets):
            raise InvalidReminderOffsetError("Số ngày nhắc trước hạn phải là các số nguyên dương khác nhau",
                                             "reminder offsets must be distinct positive whole days", field="offsets")
        if self.overdue_after_days < 1:
            raise InvalidReminderOffsetError("Thông báo quá hạn phải gửi sau hạn ít nhất 1 ngày",
                                             "the overdue notice must come at least 1 day after the due date",
                                             field="overdue_after_days")


DEFAULT_REMINDERS = ReminderPolicy()


@dataclass(frozen=True)
class Reminder:
    """One message to send: about an obligation, at an instant, to a recipient."""

    obligation: Obligation
    kind: NoticeKind
    offset: str  # "D-14", "D-7", "D-1" or "overdue"
    recipient: Party
    send_at: datetime

    @property
    def key(self) -> str:
        """The at-most-once key (obligation, offset, recipient)."""
        return reminder_key(self.obligation.key, self.offset, str(self.recipient))


def reminders_for(obligation: Obligation, policy: ReminderPolicy = DEFAULT_REMINDERS) -> list[Reminder]:
    """The reminders of one obligation (to the owing party) and its overdue notice, by send time."""
    def at(day: date) -> datetime:
        return datetime.combine(day, policy.send_time, tzinfo=VIETNAM)

    due = obligation.due_date
    result = [Reminder(obligation, NoticeKind.REMINDER, f"D-{o}", obligation.owing, at(due - timedelta(days=o)))
              for o in sorted(policy.offsets, reverse=True)]
    result.append(Reminder(obligation, NoticeKind.OVERDUE, "overdue", obligation.owing,
                           at(due + timedelta(days=policy.overdue_after_days))))
    return result


def reminders_between(obligations: Iterable[Obligation], satisfied: Collection[str], start: datetime, end: datetime,
                      policy: ReminderPolicy = DEFAULT_REMINDERS) -> list[Reminder]:
    """Reminders due in [start, end) for obligations not yet satisfied, by send time then key."""
    first, last = timedelta(days=max(policy.offsets, default=0) + 1), timedelta(days=policy.overdue_after_days + 1)
    window = (start.astimezone(VIETNAM).date() - last, end.astimezone(VIETNAM).date() + first)
    found = [r for o in obligations if window[0] <= o.due_date <= window[1] and o.key not in satisfied
             for r in reminders_for(o, policy) if start <= r.send_at < end]
    return sorted(found, key=lambda r: (r.send_at, r.key))


def overdue(obligations: Iterable[Obligation], satisfied: Collection[str], as_of: date) -> list[Obligation]:
    """Unsatisfied obligations whose due date is before `as_of`."""
    return [o for o in obligations if o.key not in satisfied and o.due_date < as_of]


@dataclass(frozen=True)
class EscalationDigest:
    """One message to one supervisor listing every overdue obligation in its jurisdiction."""

    supervisor: Party
    as_of: date
    items: tuple[Obligation, ...]

    @property
    def key(self) -> str:
        """The at-most-once key of the digest: supervisor and day."""
        return reminder_key(f"digest/{self.as_of.isoformat()}", "escalation", str(self.supervisor))

    @property
    def subjects(self) -> list[str]:
        """The overdue units (or parties), each once, sorted."""
        return sorted({o.subject for o in self.items})


def escalation_digests(obligations: Iterable[Obligation], satisfied: Collection[str],
                       as_of: date) -> list[EscalationDigest]:
    """Overdue obligations grouped into one digest per supervisor, by supervisor."""
    groups: dict[Party, list[Obligation]] = defaultdict(list)
    for o in overdue(obligations, satisfied, as_of):
        groups[o.escalate_to].append(o)
    return [EscalationDigest(p, as_of, tuple(sorted(items, key=lambda o: (o.due_date, o.subject, o.rule_id))))
            for p, items in sorted(groups.items(), key=lambda kv: (kv[0].tier.rank, kv[0].code))]


def satisfied_by(obligations: Iterable[Obligation], subject: str, kind: ObligationKind, year: int,
                 rule_id: str | None = None) -> set[str]:
    """Keys an event satisfies: e.g. a unit's registration ends every registration obligation of its year."""
    return {o.key for o in obligations if o.subject == subject and o.kind is kind and o.year == year
            and (rule_id is None or o.rule_id == rule_id)}

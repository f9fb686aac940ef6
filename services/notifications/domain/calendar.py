"""Deadline calendars as data: who owes what to whom by which day, national defaults with local overrides.

A calendar belongs to a scope (national, a province or a commune, by official code) and has
versions with effective dates. For a unit in commune C of province P, the deadlines of a year are
the national ones, replaced (same id) or removed by P's, then by C's. Within one scope, a version
governs the deadlines whose nominal date falls between its effective date and the next version's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from antt.auth.principal import TIER_ALIASES
from antt.auth.principal import Tier as PrincipalTier
from antt.contracts.vocabulary import UnitType
from services.notifications.domain.errors import InvalidCalendarError
from services.notifications.domain.holidays import WorkingCalendar

UNIT_TYPES = frozenset(t.value for t in UnitType)  # the published vocabulary (TT124 Đ1 k2)
COMMUNE_UNIT_TYPE = UnitType.XA_PHUONG.value  # the commune (xã, phường, đặc khu) itself, as a unit of the movement


class Tier(enum.Enum):
    """Levels of the two-tier system (from 01/7/2025) plus the unit itself and the Ministry.

    The values are the one tier vocabulary of antt (antt.auth.principal.Tier: don_vi, xa, tinh, bo);
    the English spellings (unit, commune, province, ministry/national) are still accepted on input.
    """

    UNIT = PrincipalTier.DON_VI.value
    COMMUNE = PrincipalTier.XA.value
    PROVINCE = PrincipalTier.TINH.value
    MINISTRY = PrincipalTier.BO.value

    @classmethod
    def _missing_(cls, value: object) -> Tier | None:
        alias = TIER_ALIASES.get(value) if isinstance(value, str) else None
        return cls(alias.value) if alias is not None else None

    @property
    def rank(self) -> int:
        """0 for a unit, up to 3 for the Ministry."""
        return list(Tier).index(self)

    @property
    def key_label(self) -> str:
        """The English spelling used inside reminder keys; keys already recorded must keep matching."""
        return KEY_LABELS[self]


# Reminder keys (ledger rows, Message-ID, Idempotency-Key, published events) were first written with
# these spellings; changing them would make a reminder already sent look new and send it again.
KEY_LABELS = {Tier.UNIT: "unit", Tier.COMMUNE: "commune", Tier.PROVINCE: "province", Tier.MINISTRY: "ministry"}


class ObligationKind(enum.Enum):
    """What is owed."""

    REGISTRATION = "registration"
    PLAN = "plan"
    REPORT = "report"
    DECISION = "decision"
    CLASSIFICATION = "classification"


class HolidayRule(enum.Enum):
    """What happens to a deadline that falls on a weekend or public holiday."""

    SHIFT_FORWARD = "shift_forward"  # to the next working day (cf. BLDS 2015 Đ148 k5; INFERRED to apply)
    SHIFT_BACK = "shift_back"  # to the last working day before it
    FLAG = "flag"  # keep the date, mark it for an operator


DEFAULT_HOLIDAY_RULE = HolidayRule.SHIFT_FORWARD


class Certainty(enum.Enum):
    """How sure the data is (markers of shared/domain/regulations.md)."""

    CONFIRMED = "confirmed"
    LOCAL_PLAN = "local_plan"
    PROVISIONAL = "provisional"


class ScopeLevel(enum.Enum):
    """Whose calendar it is."""

    NATIONAL = "national"
    PROVINCE = "province"
    COMMUNE = "commune"


@dataclass(frozen=True, order=True)
class DayMonth:
    """A day of the year without the year, e.g. 31/01."""

    month: int
    day: int

    def __post_init__(self) -> None:
        try:
            date(2001, self.month, self.day)  # a common year: 29/02 is refused
        except ValueError:
            raise InvalidCalendarError(f"Ngày/tháng không hợp lệ: {self.day}/{self.month}",
                                       f"invalid day/month {self.day}/{self.month}", field="due") from None

    def in_year(self, year: int) -> date:
        """The date in a given year."""
        return date(year, self.month, self.day)

    def __str__(self) -> str:
        return f"{self.day:02d}/{self.month:02d}"


@dataclass(frozen=True)
class DeadlineRule:
    """Every owing party (each unit of the listed types, or the authority itself) owes `kind` by `due`."""

    id: str
    kind: ObligationKind
    title_vi: str
    title_en: str
    owing_tier: Tier
    unit_types: frozenset[str]  # empty: the owing authority's own obligation, not one per unit
    recipient_tier: Tier | None  # None: the owing party's supervisor
    due: DayMonth
    escalate_to: Tier | None = None  # None: the recipient if above the owing party, else its supervisor
    holiday_rule: HolidayRule | None = None  # None: the version's rule
    certainty: Certainty = Certainty.CONFIRMED
    source: str = ""
    note: str = ""

    @property
    def per_unit(self) -> bool:
        """True when there is one obligation per unit of `unit_types`."""
        return bool(self.unit_types)


@dataclass(frozen=True)
class Observance:
    """A campaign or commemoration day: shown in calendars, never reminded or escalated."""

    day: DayMonth
    name_vi: str
    name_en: str
    source: str = ""


@dataclass(frozen=True)
class CalendarVersion:
    """The deadlines of a scope from an effective date on; `removed` drops inherited deadline ids."""

    version: int
    effective_from: date
    deadlines: tuple[DeadlineRule, ...]
    holiday_rule: HolidayRule | None = None
    removed: frozenset[str] = frozenset()
    observances: tuple[Observance, ...] = ()


@dataclass(frozen=True)
class ResolvedDeadline:
    """A deadline rule placed in a year, with the scope and version it came from."""

    rule: DeadlineRule
    year: int
    nominal: date
    holiday_rule: HolidayRule
    scope: ScopeLevel
    scope_code: str
    version: int

    def due_date(self, working: WorkingCalendar) -> DueDate:
        """The date that counts, after the holiday rule."""
        return apply_holiday_rule(self.nominal, self.holiday_rule, working)


@dataclass(frozen=True)
class DueDate:
    """Nominal and effective due date; `flagged` when it falls on a day off and the rule is FLAG."""

    nominal: date
    due: date
    flagged: bool = False
    day_off_reason: str = ""


def apply_holiday_rule(nominal: date, rule: HolidayRule, working: WorkingCalendar) -> DueDate:
    """Moves (or flags) a due date that is not a working day."""
    if working.is_working_day(nominal):
        return DueDate(nominal, nominal)
    holiday = working.holiday(nominal)
    reason = holiday.name_vi if holiday else "Ngày nghỉ cuối tuần"
    if rule is HolidayRule.SHIFT_FORWARD:
        return DueDate(nominal, working.next_working_day(nominal), day_off_reason=reason)
    if rule is HolidayRule.SHIFT_BACK:
        return DueDate(nominal, working.previous_working_day(nominal), day_off_reason=reason)
    return DueDate(nominal, nominal, flagged=True, day_off_reason=reason)


@dataclass(frozen=True)
class Calendar:
    """The versions of one scope's calendar, by effective date."""

    level: ScopeLevel
    code: str  # official province (2 digits) or commune (5 digits) code; "" for national
    name_vi: str
    versions: tuple[CalendarVersion, ...]
    province_code: str = ""  # for a commune calendar: the province it belongs to

    def windows(self) -> list[tuple[CalendarVersion, date, date]]:
        """Each version with the half-open period [from, until) it governs."""
        ordered = sorted(self.versions, key=lambda v: v.effective_from)
        ends = [v.effective_from for v in ordered[1:]] + [date.max]
        return [(v, v.effective_from, end) for v, end in zip(ordered, ends, strict=True)]

    def layer(self, year: int, inherited: dict[str, ResolvedDeadline]) -> dict[str, ResolvedDeadline]:
        """`inherited` deadlines of a year with this scope's removals and replacements applied."""
        result = dict(inherited)
        for version, start, until in self.windows():
            for rid in version.removed:
                if rid in inherited and start <= inherited[rid].nominal < until:
                    result.pop(rid, None)
            for rule in version.deadlines:
                nominal = rule.due.in_year(year)
                if start <= nominal < until:
                    result[rule.id] = ResolvedDeadline(rule, year, nominal,
                                                       rule.holiday_rule or version.holiday_rule
                                                       or DEFAULT_HOLIDAY_RULE,
                                                       self.level, self.code, version.version)
        return result

    def observances(self, year: int) -> list[tuple[date, Observance]]:
        """Observance days of a year from the versions that govern them."""
        return [(o.day.in_year(year), o) for v, start, until in self.windows() for o in v.observances
                if start <= o.day.in_year(year) < until]


@dataclass(frozen=True)
class CalendarSet:
    """The national calendar and every local override, keyed by official code."""

    national: Calendar
    provinces: dict[str, Calendar]
    communes: dict[str, Calendar]

    def deadlines(self, province_code: str, commune_code: str, year: int) -> list[ResolvedDeadline]:
        """The deadlines in force in a commune for a year, national → province → commune, by date."""
        resolved = self.national.layer(year, {})
        if province_code in self.provinces:
            resolved = self.provinces[province_code].layer(year, resolved)
        commune = self.communes.get(commune_code)
        if commune is not None and commune.province_code == province_code:
            resolved = commune.layer(year, resolved)
        return sorted(resolved.values(), key=lambda d: (d.nominal, d.rule.id))

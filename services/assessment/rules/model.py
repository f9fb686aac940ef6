"""Rule-set value objects: criteria, thresholds, calendars, classification levels, authority map."""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from services.assessment.rules.exemplary import ExemplaryRules
from services.assessment.rules.types import Tier, UnitType

PREVIOUS_YEAR = "previous_year"

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "<": operator.lt, ">": operator.gt,
}
_OP_TEXT = {">=": "≥", "<=": "≤", "==": "=", "<": "<", ">": ">"}


class RuleSetError(ValueError):
    """A rule-set file is malformed (a configuration error, found at load time)."""


class CriterionKind(enum.Enum):
    """How a criterion is judged: a yes/no fact, or a number against a threshold."""

    BOOLEAN = "boolean"
    NUMERIC = "numeric_threshold"


@dataclass(frozen=True)
class Threshold:
    """`value <op> threshold`; the threshold may be "previous_year" (compare with last year's value)."""

    op: str
    value: float | str
    unit: str = ""
    metric: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise RuleSetError(f"unknown threshold operator {self.op!r}")
        if isinstance(self.value, str) and self.value != PREVIOUS_YEAR:
            raise RuleSetError(f"threshold value must be a number or {PREVIOUS_YEAR!r}")

    @property
    def needs_previous_year(self) -> bool:
        """True when the value is compared with the same metric one year earlier."""
        return self.value == PREVIOUS_YEAR

    def is_met(self, value: float, previous: float | None = None) -> bool:
        """Whether `value` satisfies the threshold (previous-year thresholds need `previous`)."""
        if self.needs_previous_year:
            if previous is None:
                raise ValueError("a previous-year value is required")
            return _OPS[self.op](value, previous)
        return _OPS[self.op](value, float(self.value))

    def describe(self) -> str:
        """Human form, e.g. "≥ 70 %" or "< previous_year"."""
        value = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{_OP_TEXT[self.op]} {value} {self.unit}".strip()


@dataclass(frozen=True)
class Criterion:
    """One criterion of TT124 Đ4–Đ7 (or a provincial extra one); every criterion is mandatory."""

    id: str
    label_vi: str
    label_en: str
    kind: CriterionKind
    unit_types: tuple[UnitType, ...]
    threshold: Threshold | None = None
    conditional: str = ""      # when set, the criterion may be declared not applicable (e.g. no Party cell)
    computed: str = ""         # filled in by the service, not by the unit (the commune coverage figures)
    derived_from: tuple[str, ...] = ()   # met when all these criteria are met (e.g. CSGD-3)
    force_majeure_exempt: bool = False   # an appraiser may find it met despite the count, with a reason
    source: str = ""
    provisional: bool = False
    note: str = ""


@dataclass(frozen=True)
class DayOfYear:
    """A day and month that recurs each year (e.g. 15/11)."""

    month: int
    day: int

    @classmethod
    def parse(cls, text: str) -> DayOfYear:
        """Parse "DD-MM" (the notation of criteria.yaml)."""
        try:
            day, month = (int(p) for p in str(text).split("-"))
            date(2024, month, day)
        except ValueError:
            raise RuleSetError(f"not a DD-MM day of year: {text!r}") from None
        return cls(month, day)

    def in_year(self, year: int) -> date:
        """This day in the given year."""
        return date(year, self.month, self.day)


@dataclass(frozen=True)
class UnitTypeCalendar:
    """Evaluation window and deadlines of one unit type (TT124 Đ8 k2, Đ9 k1; QĐ510 Đ11 k3)."""

    window_from: DayOfYear     # in the previous year
    window_to: DayOfYear       # in the evaluated year
    decision_deadline: DayOfYear
    classification_deadline: DayOfYear

    def evaluation_window(self, year: int) -> tuple[date, date]:
        """First and last day of the evaluation window of `year`."""
        return self.window_from.in_year(year - 1), self.window_to.in_year(year)


@dataclass(frozen=True)
class Level:
    """A classification level with its lower point bound and award eligibility."""

    id: str
    label_vi: str
    label_en: str
    min_points: float
    award_eligible: bool
    requires_recognition: bool = False   # only for units recognised "An toàn về ANTT" that year


@dataclass(frozen=True)
class ClassificationRules:
    """QĐ510 scale, levels (highest first) and per-item point caps where known."""

    scale_min: float
    scale_max: float
    levels: tuple[Level, ...]
    item_max: Mapping[UnitType, Mapping[str, float]] = field(default_factory=dict)
    decided_by: Mapping[UnitType, Tier] | None = None   # None: the recognition authority map decides

    def level_for(self, points: float, recognised: bool | None = None) -> Level:
        """The highest level the points reach (skipping levels that need a recognition the unit lacks)."""
        for level in self.levels:
            if points >= level.min_points and not (level.requires_recognition and recognised is False):
                return level
        return self.levels[-1]

    def level(self, level_id: str) -> Level:
        """The level with this id."""
        for level in self.levels:
            if level.id == level_id:
                return level
        raise KeyError(level_id)


@dataclass(frozen=True)
class AuthorityRule:
    """Who decides recognition for a unit type (and, for CQ/DN/CSGD, its managing tier)."""

    unit_types: tuple[UnitType, ...]
    decider: Tier
    decider_body: str
    managed_by: Tier | None = None
    appraiser: str = ""
    source: str = ""
    provisional: bool = False


@dataclass(frozen=True)
class Delegation:
    """A higher tier's delegation (ủy quyền) to the tier one below, in one province (TT124 Đ10 k5)."""

    province_code: str
    from_tier: Tier
    unit_types: tuple[UnitType, ...]
    valid_from: date
    valid_to: date | None = None
    reference: str = ""

    def applies(self, unit_type: UnitType, province_code: str, on: date) -> bool:
        """Whether this delegation covers the unit type in the province on a date."""
        return (unit_type in self.unit_types and province_code == self.province_code
                and self.valid_from <= on and (self.valid_to is None or on <= self.valid_to))


@dataclass(frozen=True)
class AuthorityMap:
    """Recognition authorities, with optional one-tier-down delegations."""

    rules: tuple[AuthorityRule, ...]
    tiers: tuple[Tier, ...] = tuple(Tier)   # the tiers that exist, lowest first (no district after 2025)
    delegable_unit_types: tuple[UnitType, ...] = ()
    delegations: tuple[Delegation, ...] = ()

    def below(self, tier: Tier) -> Tier | None:
        """The existing tier directly below (delegation goes one tier down, TT124 Đ10 k5)."""
        index = self.tiers.index(tier) if tier in self.tiers else 0
        return self.tiers[index - 1] if index > 0 else None

    def rule_for(self, unit_type: UnitType, managed_by: Tier | None) -> AuthorityRule | None:
        """The rule for a unit type and managing tier (rules without managed_by match any tier)."""
        for rule in self.rules:
            if unit_type in rule.unit_types and rule.managed_by in (None, managed_by):
                return rule
        return None

    def decider_tiers(self, unit_type: UnitType, managed_by: Tier | None, province_code: str,
                      on: date) -> tuple[Tier, ...]:
        """Tiers allowed to decide: the mapped tier, plus one below when a delegation applies."""
        rule = self.rule_for(unit_type, managed_by)
        if rule is None:
            return ()
        tiers = [rule.decider]
        below = self.below(rule.decider)
        if below is not None and unit_type in self.delegable_unit_types and any(
                d.from_tier == rule.decider and d.applies(unit_type, province_code, on) for d in self.delegations):
            tiers.append(below)
        return tuple(tiers)


@dataclass(frozen=True)
class CoverageRule:
    """The commune rule (TT124 Đ5 k4): 100% of managed units registered, ≥70% recognised."""

    registered_criterion: str
    recognised_criterion: str
    registered_min_pct: float
    recognised_min_pct: float
    counted_unit_types: tuple[UnitType, ...]
    include_units_managed_above: bool


@dataclass(frozen=True)
class Instrument:
    """A legal instrument a rule set implements."""

    ref: str
    signed: date | None = None
    title: str = ""


@dataclass(frozen=True)
class RuleSet:
    """A versioned, dated set of rules; cases record the id they were decided under."""

    id: str
    title: str
    instruments: tuple[Instrument, ...]
    in_force_from: date
    in_force_to: date | None
    calendars: Mapping[UnitType, UnitTypeCalendar]
    criteria: tuple[Criterion, ...]
    provincial_criteria: Mapping[str, tuple[Criterion, ...]]
    registration_deadline: DayOfYear
    registration_dossier_required: tuple[str, ...]
    coverage: CoverageRule
    classification: ClassificationRules
    authority: AuthorityMap
    revocation_by_superior: bool
    exemplary: ExemplaryRules
    provisional: Mapping[str, str]   # dotted path -> note, for every UNCONFIRMED value

    def in_force_on(self, day: date) -> bool:
        """Whether this rule set is in force on a date."""
        return self.in_force_from <= day and (self.in_force_to is None or day <= self.in_force_to)

    def criteria_for(self, unit_type: UnitType, province_code: str = "") -> tuple[Criterion, ...]:
        """Mandatory criteria for a unit type, with the province's extra criteria (TT124 Đ8 k1)."""
        extra = self.provincial_criteria.get(province_code, ()) if province_code else ()
        return tuple(c for c in (*self.criteria, *extra) if unit_type in c.unit_types)

    def calendar(self, unit_type: UnitType) -> UnitTypeCalendar:
        """Evaluation window and deadlines for a unit type."""
        return self.calendars[unit_type]

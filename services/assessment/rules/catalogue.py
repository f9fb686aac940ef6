"""The catalogue of rule sets and the functions that select the one in force."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from services.assessment.domain.errors import NoRuleSetInForceError, UnknownRuleSetError
from services.assessment.rules.loader import build_rule_set, merge_bases, read_documents, unwrap
from services.assessment.rules.model import DayOfYear, RuleSet, RuleSetError

DEFAULT_YEAR_REFERENCE_DAY = DayOfYear(11, 15)


class RuleCatalogue:
    """Every rule set known to the service; in-force periods must not overlap."""

    def __init__(self, rule_sets: Iterable[RuleSet], year_reference_day: DayOfYear = DEFAULT_YEAR_REFERENCE_DAY,
                 provisional: dict[str, str] | None = None) -> None:
        self.rule_sets = tuple(sorted(rule_sets, key=lambda r: r.in_force_from))
        self.year_reference_day = year_reference_day
        self.provisional = dict(provisional or {})
        ids = [r.id for r in self.rule_sets]
        if len(set(ids)) != len(ids):
            raise RuleSetError(f"duplicate rule set ids in {ids}")
        for earlier, later in zip(self.rule_sets, self.rule_sets[1:], strict=False):
            if earlier.in_force_to is None or earlier.in_force_to >= later.in_force_from:
                raise RuleSetError(f"rule sets {earlier.id} and {later.id} overlap; end the earlier one first")

    def get(self, rule_set_id: str) -> RuleSet:
        """The rule set with this id (past decisions are explained with the set they were decided under)."""
        for rule_set in self.rule_sets:
            if rule_set.id == rule_set_id:
                return rule_set
        raise UnknownRuleSetError(f"Không có bộ quy tắc {rule_set_id!r}", f"no rule set {rule_set_id!r}",
                                  field="rule_set_id")

    def in_force_on(self, day: date) -> RuleSet:
        """The rule set in force on a date."""
        for rule_set in self.rule_sets:
            if rule_set.in_force_on(day):
                return rule_set
        raise NoRuleSetInForceError(f"Không có bộ quy tắc nào có hiệu lực ngày {day:%d/%m/%Y}",
                                    f"no rule set is in force on {day.isoformat()}", field="date")

    def for_year(self, year: int) -> RuleSet:
        """The rule set governing an evaluation year: the one in force on the year's reference day."""
        return self.in_force_on(self.year_reference_day.in_year(year))

    def with_rule_set(self, rule_set: RuleSet) -> RuleCatalogue:
        """A new catalogue with one more rule set (the previous open-ended one must already be ended)."""
        return RuleCatalogue((*self.rule_sets, rule_set), self.year_reference_day, self.provisional)


def load_catalogue(folder: Path | None = None) -> RuleCatalogue:
    """Load every rule set of a folder (default: the package's data/) into a catalogue."""
    documents, raw_settings = read_documents(folder)
    provisional: dict[str, str] = {}
    settings = unwrap(raw_settings, "", provisional)
    day = settings.get("year_reference_day")
    return RuleCatalogue((build_rule_set(doc) for doc in merge_bases(documents).values()),
                         DayOfYear.parse(day) if day else DEFAULT_YEAR_REFERENCE_DAY, provisional)

"""Điển hình (exemplary) designation per (unit, year), judged against a QĐ 9745 criteria set."""

from __future__ import annotations

import uuid
from datetime import date

from eventsourcing.domain import event

from antt.actor import Actor
from antt.eventstore.hashchain import ChainedAggregate
from services.assessment.domain.errors import (
    InvalidFieldError, StepOutOfOrderError, UnitNotEligibleError, UnmetCriterionError, WrongAuthorityError,
)
from services.assessment.domain.evaluation import UnitFacts, check_area
from services.assessment.domain.units import UnitProfile
from services.assessment.domain.values import Decision, clean_text
from services.assessment.rules.exemplary import ExemplarySet
from services.assessment.rules.model import RuleSet
from services.assessment.rules.types import UnitType

EXEMPLARY_NAMESPACE = uuid.UUID("9e4b7c20-1f3a-5d6e-b7c8-3a2d1e0f2026")


def criteria_set(rules: RuleSet, set_id: str, profile: UnitProfile) -> ExemplarySet:
    """The named criteria set, which must exist and apply to the unit's type."""
    for s in rules.exemplary.sets:
        if s.id == set_id:
            if profile.unit_type not in s.unit_types:
                raise InvalidFieldError(f"Bộ tiêu chí {set_id} không áp dụng cho {profile.unit_type.label_vi}",
                                        f"criteria set {set_id} does not apply to {profile.unit_type.value}",
                                        field="criteria_set_id")
            return s
    raise InvalidFieldError(f"Không có bộ tiêu chí điển hình {set_id!r}", f"no exemplary criteria set {set_id!r}",
                            field="criteria_set_id")


class ExemplaryDesignation(ChainedAggregate):
    """A unit designated exemplary (điển hình) for a year, by decision of the designating tier."""

    @staticmethod
    def create_id(unit_id: uuid.UUID, year: int) -> uuid.UUID:
        """One designation per unit and year."""
        return uuid.uuid5(EXEMPLARY_NAMESPACE, f"{unit_id}:{year}")

    @classmethod
    def designate(cls, profile: UnitProfile, year: int, criteria_set_id: str, criteria_met: int, decision: Decision,
                  rules: RuleSet, actor: Actor, effective_date: date) -> ExemplaryDesignation:
        """Designate under a criteria set; by default every criterion of the set must be met (provisional)."""
        if not profile.eligible:
            raise UnitNotEligibleError(f"Đơn vị {profile.code} không thuộc đối tượng", f"unit {profile.code} is "
                                       "out of scope", field="unit_id")
        chosen = criteria_set(rules, criteria_set_id, profile)
        count = chosen.criteria_count
        if criteria_met < 0 or (count is not None and criteria_met > count):
            raise InvalidFieldError(f"Số tiêu chí đạt {criteria_met} không hợp lệ", f"criteria_met {criteria_met} "
                                    "is out of range", field="criteria_met")
        if count is not None and rules.exemplary.all_criteria_required and criteria_met < count:
            raise UnmetCriterionError([f"{chosen.id}: {criteria_met}/{count}"])
        unit = UnitFacts(profile.unit_type, profile.province_code, profile.commune_code, profile.managed_by)
        if decision.authority.tier is not rules.exemplary.designated_by:
            raise WrongAuthorityError(f"{decision.authority.tier.label_vi} không có thẩm quyền công nhận điển hình",
                                      f"tier {decision.authority.tier.value} may not designate exemplars "
                                      f"(rule set {rules.id})", field="decision.authority")
        check_area(decision.authority, unit)
        return cls(unit_id=profile.unit_id, year=year, criteria_set_id=chosen.id, criteria_met=criteria_met,
                   criteria_count=count, rule_set_id=rules.id, decision=decision, actor=actor,
                   effective_date=effective_date, unit_code=profile.code, unit_type=profile.unit_type,
                   province_code=profile.province_code, commune_code=profile.commune_code)

    @event("Designated")
    def __init__(self, unit_id: uuid.UUID, year: int, criteria_set_id: str, criteria_met: int,
                 criteria_count: int | None, rule_set_id: str, decision: Decision, actor: Actor,
                 effective_date: date, unit_code: str = "", unit_type: UnitType | None = None,
                 province_code: str = "", commune_code: str = "") -> None:
        self.unit_id, self.year, self.rule_set_id = unit_id, year, rule_set_id
        self.unit_code, self.unit_type = unit_code, unit_type
        self.province_code, self.commune_code = province_code, commune_code
        self.criteria_set_id, self.criteria_met, self.criteria_count = criteria_set_id, criteria_met, criteria_count
        self.decision = decision
        self.active = True
        self.withdrawal: Decision | None = None
        self.withdrawal_reason = ""

    def withdraw(self, decision: Decision, reason: str, actor: Actor, effective_date: date) -> None:
        """Withdraw the designation, by the designating tier of the same area or a higher tier."""
        if not self.active:
            raise StepOutOfOrderError("withdraw", "Đã thu hồi", "withdrawn")
        by, original = decision.authority, self.decision.authority
        if by.tier.rank < original.tier.rank or (by.tier is original.tier and by.area_code != original.area_code):
            raise WrongAuthorityError(f"{by.name} không có thẩm quyền thu hồi", f"{by.name} may not withdraw this",
                                      field="decision.authority")
        self._withdrawn(decision=decision, reason=clean_text(reason, "reason", "Lý do thu hồi"), actor=actor,
                        effective_date=effective_date)

    @event("Withdrawn")
    def _withdrawn(self, decision: Decision, reason: str, actor: Actor, effective_date: date) -> None:
        self.active = False
        self.withdrawal, self.withdrawal_reason = decision, reason

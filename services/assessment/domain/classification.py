"""Movement classification per (unit, year) under QĐ510: points, level, decision, reclassification."""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Mapping
from datetime import date

from eventsourcing.domain import event

from antt.actor import Actor
from antt.eventstore.hashchain import ChainedAggregate
from services.assessment.domain.errors import (
    InvalidFieldError, PointsOutsideScaleError, StepOutOfOrderError, UnitNotEligibleError, WrongAuthorityError,
)
from services.assessment.domain.evaluation import UnitFacts, check_area, check_decider
from services.assessment.domain.units import UnitProfile
from services.assessment.domain.values import Decision, clean_text
from services.assessment.rules.model import RuleSet
from services.assessment.rules.types import Tier, UnitType

CLASSIFICATION_NAMESPACE = uuid.UUID("5a0e6d1f-8b2c-5c3d-a4e5-7f9b0c1d2026")


class ClassificationState(enum.Enum):
    """Proposed by the unit, then decided (and possibly reclassified) by the competent tier."""

    DE_XUAT = "de_xuat"
    DA_QUYET_DINH = "da_quyet_dinh"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return {"de_xuat": "Đơn vị đề xuất", "da_quyet_dinh": "Đã quyết định phân loại"}[self.value]


def score(items: Mapping[str, float], rules: RuleSet, unit_type: UnitType) -> float:
    """Total points of the scoring items; each item and the total must lie on the scale in force."""
    scale = rules.classification
    caps = scale.item_max.get(unit_type, {})
    if not items:
        raise InvalidFieldError("Cần điểm của ít nhất một mục", "at least one scoring item is needed", field="items")
    for item, points in items.items():
        cap = caps.get(item, scale.scale_max)
        if not isinstance(points, (int, float)) or not math.isfinite(points) or not 0 <= points <= cap:
            raise PointsOutsideScaleError(f"Điểm mục {item} phải từ 0 đến {cap:g}",
                                          f"points of item {item} must be between 0 and {cap:g}",
                                          field=f"items.{item}")
    total = float(sum(items.values()))
    if not scale.scale_min <= total <= scale.scale_max:
        raise PointsOutsideScaleError(f"Tổng điểm {total:g} ngoài thang {scale.scale_min:g}–{scale.scale_max:g}",
                                      f"total {total:g} is outside the scale {scale.scale_min:g}–{scale.scale_max:g}",
                                      field="items")
    return total


class Classification(ChainedAggregate):
    """A unit's movement classification for one year; the level is derived from the thresholds in force."""

    @staticmethod
    def create_id(unit_id: uuid.UUID, year: int) -> uuid.UUID:
        """Classification ids are UUID5 of (unit, year): one per unit and year."""
        return uuid.uuid5(CLASSIFICATION_NAMESPACE, f"{unit_id}:{year}")

    @classmethod
    def propose(cls, profile: UnitProfile, year: int, items: Mapping[str, float], rules: RuleSet, actor: Actor,
                effective_date: date) -> Classification:
        """The unit scores itself and proposes a level (QĐ510 Đ11 k1)."""
        if not profile.eligible:
            raise UnitNotEligibleError(f"Đơn vị {profile.code} không thuộc đối tượng phân loại",
                                       f"unit {profile.code} is not subject to classification", field="unit_id")
        total = score(items, rules, profile.unit_type)
        return cls(unit_id=profile.unit_id, year=year, unit_type=profile.unit_type,
                   province_code=profile.province_code, commune_code=profile.commune_code,
                   managed_by=profile.managed_by, delegated_to=profile.delegated_to, rule_set_id=rules.id,
                   items=dict(items), total=total, proposed_level=rules.classification.level_for(total).id,
                   actor=actor, effective_date=effective_date, unit_code=profile.code)

    @event("Proposed")
    def __init__(self, unit_id: uuid.UUID, year: int, unit_type: UnitType, province_code: str, commune_code: str,
                 managed_by: Tier, delegated_to: Tier | None, rule_set_id: str, items: dict[str, float],
                 total: float, proposed_level: str, actor: Actor, effective_date: date,
                 unit_code: str = "") -> None:
        self.unit_id, self.year, self.rule_set_id, self.unit_code = unit_id, year, rule_set_id, unit_code
        self.unit = UnitFacts(unit_type, province_code, commune_code, managed_by, delegated_to)
        self.items, self.total, self.proposed_level = dict(items), total, proposed_level
        self.level = ""
        self.award_eligible = False
        self.decision: Decision | None = None
        self.late = False
        self.reclassifications = 0
        self.state = ClassificationState.DE_XUAT

    def _check(self, step: str, state: ClassificationState, rules: RuleSet, decision: Decision) -> None:
        if self.state is not state:
            raise StepOutOfOrderError(step, self.state.label_vi, self.state.value)
        if rules.id != self.rule_set_id:
            raise InvalidFieldError(f"Phân loại theo bộ quy tắc {self.rule_set_id}, không phải {rules.id}",
                                    f"classification is governed by rule set {self.rule_set_id}, not {rules.id}",
                                    field="rule_set_id", reason="RULE_SET_MISMATCH")
        # QĐ510 tier-by-tier authorities are UNCONFIRMED: the recognition authority map is the default.
        tiers = rules.classification.decided_by
        if tiers is None:
            check_decider(rules, self.unit, decision.authority, decision.date)
            return
        if decision.authority.tier is not tiers.get(self.unit.unit_type):
            raise WrongAuthorityError(f"{decision.authority.tier.label_vi} không có thẩm quyền phân loại",
                                      f"tier {decision.authority.tier.value} may not classify "
                                      f"{self.unit.unit_type.value} (rule set {rules.id})", field="decision.authority")
        check_area(decision.authority, self.unit)

    def decide(self, decision: Decision, rules: RuleSet, actor: Actor, items: Mapping[str, float] | None = None,
               recognised: bool = False) -> None:
        """The competent tier decides points and level; late decisions (after 20/11 or 30/11) are flagged."""
        self._check("decide", ClassificationState.DE_XUAT, rules, decision)
        final = dict(items) if items is not None else self.items
        total = score(final, rules, self.unit.unit_type)
        level = rules.classification.level_for(total, recognised)
        deadline = rules.calendar(self.unit.unit_type).classification_deadline.in_year(self.year)
        self._decided(items=final, total=total, level=level.id, award_eligible=level.award_eligible,
                      recognised=recognised, decision=decision, late=decision.date > deadline, actor=actor,
                      effective_date=decision.date)

    @event("Decided")
    def _decided(self, items: dict[str, float], total: float, level: str, award_eligible: bool, recognised: bool,
                 decision: Decision, late: bool, actor: Actor, effective_date: date) -> None:
        self.items, self.total, self.level, self.award_eligible = dict(items), total, level, award_eligible
        self.decision, self.late = decision, late
        self.state = ClassificationState.DA_QUYET_DINH

    def reclassify(self, items: Mapping[str, float], reason: str, decision: Decision, rules: RuleSet,
                   actor: Actor, effective_date: date, recognised: bool = False) -> None:
        """Change a decided classification by a new decision, keeping the previous level on the event."""
        self._check("reclassify", ClassificationState.DA_QUYET_DINH, rules, decision)
        reason = clean_text(reason, "reason", "Lý do phân loại lại")
        total = score(items, rules, self.unit.unit_type)
        if dict(items) == self.items:
            raise InvalidFieldError("Điểm không thay đổi, không cần phân loại lại",
                                    "the points are unchanged: nothing to reclassify", field="items",
                                    reason="NOTHING_TO_RECLASSIFY")
        level = rules.classification.level_for(total, recognised)
        self._reclassified(previous_level=self.level, previous_total=self.total, items=dict(items), total=total,
                           level=level.id, award_eligible=level.award_eligible, recognised=recognised,
                           reason=reason, decision=decision, actor=actor, effective_date=effective_date)

    @event("Reclassified")
    def _reclassified(self, previous_level: str, previous_total: float, items: dict[str, float], total: float,
                      level: str, award_eligible: bool, recognised: bool, reason: str, decision: Decision,
                      actor: Actor, effective_date: date) -> None:
        self.items, self.total, self.level, self.award_eligible = dict(items), total, level, award_eligible
        self.decision = decision
        self.reclassifications += 1

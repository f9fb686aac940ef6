"""Điển hình (exemplary) criteria sets as rule data (QĐ 9745/QĐ-BCA-V05)."""

from __future__ import annotations

from dataclasses import dataclass

from services.assessment.rules.types import Tier, UnitType


@dataclass(frozen=True)
class ExemplarySet:
    """A criteria set for "điển hình" designation (QĐ 9745/QĐ-BCA-V05)."""

    id: str
    label_vi: str
    instrument: str
    unit_types: tuple[UnitType, ...]
    criteria_count: int | None = None


@dataclass(frozen=True)
class ExemplaryRules:
    """Exemplary criteria sets, who designates, and whether every criterion must be met."""

    sets: tuple[ExemplarySet, ...] = ()
    designated_by: Tier = Tier.TINH
    all_criteria_required: bool = True

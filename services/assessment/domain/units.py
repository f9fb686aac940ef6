"""What the assessment domain needs to know about units, behind a small port (UnitDirectory)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from services.assessment.rules.model import CoverageRule
from services.assessment.rules.types import Tier, UnitType


@dataclass(frozen=True)
class UnitProfile:
    """A unit as the replica knows it: type, location, managing tier and TT124 Đ1 k2 eligibility."""

    unit_id: UUID
    code: str
    name: str
    unit_type: UnitType
    province_code: str
    commune_code: str
    managed_by: Tier = Tier.XA
    delegated_to: Tier | None = None    # the tier that manages it by delegation (TT124 Đ10 k5), if any
    eligible: bool = True
    ineligible_reason: str = ""

    def managed_by_commune(self, rule: CoverageRule) -> bool:
        """Whether this unit counts in its commune's 70% rule (TT124 Đ5 k4)."""
        if self.unit_type not in rule.counted_unit_types:
            return False
        return self.managed_by is Tier.XA or self.delegated_to is Tier.XA or rule.include_units_managed_above


class UnitDirectory(Protocol):
    """Read access to units; later backed by the registry replica table."""

    def get(self, unit_id: UUID) -> UnitProfile | None:
        """The unit with this id, or None."""
        ...

    def get_many(self, unit_ids: Iterable[UUID]) -> dict[UUID, UnitProfile]:
        """The units with these ids that exist, by id (as `get` one at a time)."""
        ...

    def in_commune(self, commune_code: str) -> Sequence[UnitProfile]:
        """Every unit located in a commune (the commune itself included)."""
        ...


class StaticUnitDirectory:
    """A UnitDirectory over a fixed list of profiles (tests, demo data)."""

    def __init__(self, profiles: Iterable[UnitProfile] = ()) -> None:
        self._by_id = {p.unit_id: p for p in profiles}

    def add(self, *profiles: UnitProfile) -> None:
        """Add or replace profiles."""
        self._by_id.update({p.unit_id: p for p in profiles})

    def get(self, unit_id: UUID) -> UnitProfile | None:
        """The unit with this id, or None."""
        return self._by_id.get(unit_id)

    def get_many(self, unit_ids: Iterable[UUID]) -> dict[UUID, UnitProfile]:
        """The units with these ids that exist, by id."""
        return {i: self._by_id[i] for i in unit_ids if i in self._by_id}

    def in_commune(self, commune_code: str) -> Sequence[UnitProfile]:
        """Every unit located in a commune."""
        return [p for p in self._by_id.values() if p.commune_code == commune_code]

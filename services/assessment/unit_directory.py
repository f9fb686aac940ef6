"""A UnitDirectory backed by the registry replica table: eligibility and the 70% rule from our own state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.eventstore.application import IDS_PER_QUERY
from services.assessment.domain.units import UnitProfile
from services.assessment.projections import ensure_schema, unit_replica
from services.assessment.rules.types import Tier, UnitType

NATIONAL_AUTHORITIES = frozenset({"bo", "bca", "bo_cong_an", "national", "quoc_gia"})


def managing_tier(managing_authority: str, unit_type: UnitType) -> Tier:
    """The tier that manages a unit, derived from the registry's managing-authority code.

    The registry publishes a code, not a tier: "" means the commune where the unit is (a commune
    itself is managed by its province); a 2-digit code is a province, a 5-digit code a commune;
    "bo"/"BCA"/"national" the Ministry; a tier value ("xa", "tinh", ...) is taken as it is.
    """
    code = (managing_authority or "").strip()
    if not code:
        return Tier.TINH if unit_type is UnitType.XA_PHUONG else Tier.XA
    lowered = code.lower()
    if lowered in NATIONAL_AUTHORITIES:
        return Tier.BO
    if lowered in {t.value for t in Tier}:
        return Tier(lowered)
    if code.isdigit() and len(code) <= 2:
        return Tier.TINH
    if code.isdigit() and len(code) == 3:
        return Tier.HUYEN   # a pre-2025 district code
    return Tier.XA


def profile_from_row(row: Mapping[str, Any]) -> UnitProfile:
    """A UnitProfile from one replica row; a closed unit is out of scope."""
    unit_type = UnitType(row["unit_type"])
    eligible, reason = bool(row["eligible"]), row["eligibility_explanation_vi"] or row["eligibility_reason"]
    if row["closed_on"]:
        eligible = False
        reason = f"đơn vị đã đóng từ {row['closed_on']} ({row['closure_reason']})"
    return UnitProfile(unit_id=UUID(row["unit_id"]), code=row["code"], name=row["name"], unit_type=unit_type,
                       province_code=row["province_code"], commune_code=row["commune_code"],
                       managed_by=managing_tier(row["managing_authority"], unit_type), delegated_to=None,
                       eligible=eligible, ineligible_reason=reason)


# Built once and executed with parameters (see `get_many`).
_BY_IDS = sa.select(unit_replica).where(unit_replica.c.unit_id.in_(sa.bindparam("ids", expanding=True)))


class ReplicaUnitDirectory:
    """Units as this service's replica of the registry knows them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        ensure_schema(engine)

    def _select(self, where: Any, order: bool = True, offset: int = 0, limit: int | None = None) -> list[UnitProfile]:
        query = sa.select(unit_replica).where(where)
        if order:
            query = query.order_by(unit_replica.c.code)
        if offset:
            query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [profile_from_row(r) for r in conn.execute(query).mappings()]

    def get(self, unit_id: UUID) -> UnitProfile | None:
        """The unit with this id, or None."""
        found = self._select(unit_replica.c.unit_id == str(unit_id), order=False)
        return found[0] if found else None

    def get_many(self, unit_ids: Iterable[UUID]) -> dict[UUID, UnitProfile]:
        """The units with these ids that exist, by id: one query per few hundred ids (a query per unit, built and
        compiled each time, was most of registering a commune's list)."""
        wanted = sorted({str(i) for i in unit_ids})
        found: dict[UUID, UnitProfile] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), IDS_PER_QUERY):
                for row in conn.execute(_BY_IDS, {"ids": wanted[start:start + IDS_PER_QUERY]}).mappings():
                    profile = profile_from_row(row)
                    found[profile.unit_id] = profile
        return found

    def in_commune(self, commune_code: str) -> Sequence[UnitProfile]:
        """Every unit located in a commune (the commune itself included), by code."""
        return self._select(unit_replica.c.commune_code == commune_code)

    def in_area(self, province_code: str = "", commune_code: str = "", offset: int = 0,
                limit: int | None = None) -> list[UnitProfile]:
        """Units of a province and/or commune ordered by code (every unit when both are empty)."""
        where: Any = sa.true()
        if province_code:
            where = sa.and_(where, unit_replica.c.province_code == province_code)
        if commune_code:
            where = sa.and_(where, unit_replica.c.commune_code == commune_code)
        return self._select(where, offset=offset, limit=limit)

    def count(self) -> int:
        """How many units the replica holds."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(unit_replica)).scalar() or 0)

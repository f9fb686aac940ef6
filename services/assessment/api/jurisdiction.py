"""Who may call which AssessmentService method: permissions and the jurisdiction resolver over the replica."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa

from antt.auth.authz import READERS, Permission, Target, UnitPlace, fields, permission
from services.assessment.application import Assessments
from services.assessment.projections import unit_replica

AGGREGATE = "aggregate:"  # a unit_ref naming a case, classification or designation instead of a unit


def aggregate(field: str) -> Any:
    """A target: the unit of the case/classification/designation whose id is in `field`."""

    def extract(request: Any) -> Target:
        return Target(unit_ref=AGGREGATE + str(getattr(request, field)))
    return extract


def by_id_or_unit(field: str) -> Any:
    """A target: the aggregate named by `field`, else the unit named by unit_id (with a year)."""

    def extract(request: Any) -> Target:
        given = str(getattr(request, field))
        return Target(unit_ref=AGGREGATE + given if given else request.unit_id)
    return extract


def decided_cases(request: Any) -> list[Target]:
    """Every case a decision names must be within reach (a decision with none names no place)."""
    return [Target(unit_ref=AGGREGATE + item.case_id) for item in request.cases] or [Target()]


def registered_units(request: Any) -> list[Target]:
    """Every unit of a list of registrations must be within reach, as for RegisterCase."""
    return [Target(unit_ref=r.unit_id) for r in request.registrations] or [Target()]


def appraised_cases(request: Any) -> list[Target]:
    """Every case of an appraisal session must be within reach, as for AppraiseCase."""
    return [Target(unit_ref=AGGREGATE + a.case_id) for a in request.appraisals] or [Target()]


UNIT = fields(unit="unit_id")
UNIT_SELF_WRITE: Permission = permission(write=True, target=UNIT, unit_self=True)
CASE_SELF_WRITE: Permission = permission(write=True, target=aggregate("case_id"), unit_self=True)
CASE_WRITE: Permission = permission(write=True, target=aggregate("case_id"))
DECIDE_CASES: Permission = permission(write=True, target=decided_cases)
REGISTER_CASES: Permission = permission(write=True, target=registered_units, unit_self=True)
APPRAISE_CASES: Permission = permission(write=True, target=appraised_cases)
UNIT_WRITE: Permission = permission(write=True, target=UNIT)
CLASSIFICATION_WRITE: Permission = permission(write=True, target=aggregate("classification_id"))
DESIGNATION_WRITE: Permission = permission(write=True, target=aggregate("designation_id"))
CASE_READ: Permission = permission(READERS, write=False, target=by_id_or_unit("case_id"), unit_self=True)
CASE_EXPLAIN: Permission = permission(READERS, write=False, target=aggregate("case_id"), unit_self=True)
CLASSIFICATION_READ: Permission = permission(READERS, write=False, target=by_id_or_unit("classification_id"),
                                             unit_self=True)
HISTORY_READ: Permission = permission(READERS, write=False, target=aggregate("aggregate_id"), unit_self=True)
UNIT_READ: Permission = permission(READERS, write=False, target=UNIT, unit_self=True)
LIST_READ: Permission = permission(READERS, write=False,
                                   target=fields(province="province_code", commune="commune_code"))
COMMUNE_READ: Permission = permission(READERS, write=False, target=fields(commune="commune_code"))
NATIONAL_READ: Permission = permission(READERS, write=False)


class ReplicaResolver:
    """Finds places in the unit replica (and a case's unit in the event store)."""

    def __init__(self, app: Assessments, engine: sa.Engine) -> None:
        self.app = app
        self.engine = engine

    def province_of(self, commune_code: str, as_of: str = "") -> str | None:
        """The province recorded for units of this commune in the replica, or None if none is known."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(unit_replica.c.province_code)
                                 .where(unit_replica.c.commune_code == commune_code).limit(1)).scalar()
        return str(found) if found else None

    def unit_place(self, unit_ref: str, as_of: str = "") -> UnitPlace | None:
        """The replica's place of a unit (by id, or `aggregate:<id>` of its case/classification/designation)."""
        held: Any = None
        if unit_ref.startswith(AGGREGATE):
            held = self._aggregate(unit_ref[len(AGGREGATE):])
            if held is None:
                return None
            unit_ref = str(held.unit_id)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(unit_replica.c.code, unit_replica.c.province_code,
                                         unit_replica.c.commune_code)
                               .where(unit_replica.c.unit_id == unit_ref)).first()
        if row is not None:
            return UnitPlace(row.code, row.province_code, row.commune_code)
        if held is not None and getattr(held, "commune_code", ""):  # the place the aggregate recorded
            return UnitPlace(getattr(held, "unit_code", ""), held.province_code, held.commune_code)
        return None

    def _aggregate(self, aggregate_id: str) -> Any:
        try:
            # a cached case is enough: only its unit and place are read, and they never change
            return self.app.cases.peek(UUID(aggregate_id)) or self.app.repository.get(UUID(aggregate_id))
        except Exception:  # malformed or unknown id: the check denies (existence does not leak)
            return None

"""Who may call which NotificationsService method: permissions and the resolver over the unit replica."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.auth.authz import READERS, Permission, Target, UnitPlace, fields, permission
from antt.auth.principal import Role
from services.notifications.projections import units


def area(request: Any) -> Target:
    """The province or commune named by the request's `jurisdiction` (empty: national)."""
    return Target(province_code=request.jurisdiction.province_code, commune_code=request.jurisdiction.commune_code)


def unit_or_area(request: Any) -> Target:
    """One unit when `unit_id` is given, else the request's jurisdiction."""
    return Target(unit_ref=request.unit_id) if request.unit_id else area(request)


AREA_READ: Permission = permission(READERS, write=False, target=area)
UNIT_READ: Permission = permission(READERS, write=False, target=fields(unit="unit_id"), unit_self=True)
OBLIGATIONS_READ: Permission = permission(READERS, write=False, target=unit_or_area, unit_self=True)
NATIONAL_READ: Permission = permission(READERS, write=False)
RUN_SCAN: Permission = permission({Role.MINISTRY_OPERATOR}, write=True)  # sends reminders nationwide


class ReplicaResolver:
    """Finds a commune's province and a unit's place in the notifications' unit replica."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def province_of(self, commune_code: str, as_of: str = "") -> str | None:
        """The province recorded for units of this commune, or None if no unit of it is known."""
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(units.c.province_code).where(units.c.commune_code == commune_code)
                                 .limit(1)).scalar()
        return str(found) if found else None

    def unit_place(self, unit_ref: str, as_of: str = "") -> UnitPlace | None:
        """The replica's place of the unit with this id, or None if unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(units.c.code, units.c.province_code, units.c.commune_code)
                               .where(units.c.unit_id == unit_ref)).first()
        return UnitPlace(row.code, row.province_code, row.commune_code) if row is not None else None

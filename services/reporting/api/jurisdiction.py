"""Who may read which report: the scope of a request is the target of the kernel's jurisdiction check."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.auth.authz import READERS, Permission, Target, UnitPlace, permission
from services.reporting.projections import areas, unit_history
from services.reporting.projections.schema import iso_date


def scope_target(request: Any) -> Target:
    """The area a report request covers ("national" and malformed scopes are national)."""
    kind, _, code = (request.query.scope or "national").partition(":")
    if kind == "province":
        return Target(province_code=code)
    if kind == "commune":
        return Target(commune_code=code)
    return Target()


READ_SCOPE: Permission = permission(READERS, write=False, target=scope_target)
READ_NATIONAL: Permission = permission(READERS, write=False)


class AreaResolver:
    """Finds a commune's province from the area and unit read models."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def province_of(self, commune_code: str, as_of: str = "") -> str | None:
        """The commune's province (on `as_of`, an ISO date or time; "" latest), else that of a unit placed in it."""
        states = areas.area_states
        places = unit_history.unit_history
        on = iso_date(as_of)
        query = sa.select(states.c.parent_code).where(states.c.level == "commune", states.c.code == commune_code,
                                                      states.c.parent_level == "province")
        if on is not None:
            query = query.where(sa.or_(states.c.effective_from.is_(None), states.c.effective_from <= on))
        with self.engine.connect() as conn:
            parent = conn.execute(query.order_by(states.c.version.desc()).limit(1)).scalar()
            if parent:
                return str(parent)
            province = conn.execute(sa.select(places.c.province_code).where(places.c.commune_code == commune_code)
                                    .order_by(places.c.effective_from.desc()).limit(1)).scalar()
        return str(province) if province else None

    def unit_place(self, unit_ref: str, as_of: str = "") -> UnitPlace | None:
        """Reports never target a single unit."""
        return None

"""Who may call which RegistryService method: permissions and the registry's jurisdiction resolver."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from antt.auth.authz import READERS, Permission, Target, UnitPlace, fields, permission
from antt.auth.principal import Role
from antt.errors import DomainError
from services.registry.application import Registry
from services.registry.domain.unit import Unit
from services.registry.reference import communes

MINISTRY = frozenset({Role.MINISTRY_OPERATOR})


def anywhere(_request: Any) -> Sequence[Target]:
    """No target: public reference data (the area tree) that every admitted reader may see."""
    return ()


def move_targets(request: Any) -> list[Target]:
    """A move must be within reach both where the unit is and where it goes."""
    return [Target(unit_ref=request.unit_id, as_of=request.effective_date),
            Target(province_code=request.province_code, commune_code=request.commune_code,
                   as_of=request.effective_date)]


PLACE = fields(province="province_code", commune="commune_code")
REGISTER: Permission = permission(write=True, target=PLACE)
IMPORT_UNITS: Permission = permission(write=True, target=anywhere)  # who may import; rows checked one by one
IMPORT_ROW: Permission = permission(write=True, target=PLACE)
UNIT_READ: Permission = permission(write=False, target=fields(unit="unit_id", as_of="as_of"), unit_self=True)
UNIT_HISTORY: Permission = permission(write=False, target=fields(unit="unit_id"), unit_self=True)
UNIT_SELF_WRITE: Permission = permission(write=True, target=fields(unit="unit_id"), unit_self=True)
FACTS: Permission = permission(write=True, target=fields(unit="unit_id", as_of="effective_date"), unit_self=True)
UNIT_WRITE: Permission = permission(write=True, target=fields(unit="unit_id", as_of="effective_date"))
MOVE: Permission = permission(write=True, target=move_targets)
LIST_UNITS: Permission = permission(READERS, write=False,
                                    target=fields(province="province_code", commune="commune_code", as_of="as_of"))
AREA_WRITE: Permission = permission(MINISTRY, write=True)
AREA_READ: Permission = permission(READERS, write=False, target=anywhere)


class UnitDirectory:
    """Finds a commune's province (official reference) and a unit's place (its own history)."""

    def __init__(self, app: Registry) -> None:
        self.app = app

    def province_of(self, commune_code: str, as_of: str = "") -> str | None:
        """The province of a commune in the official 2025 reference, or None if unknown."""
        area = communes().get(commune_code)
        return area.province_code if area is not None else None

    def unit_place(self, unit_ref: str, as_of: str = "") -> UnitPlace | None:
        """Where the unit (by id or code) was on `as_of` (its latest place when not placed then)."""
        try:
            unit = self._unit(unit_ref)
            on = date.fromisoformat(as_of[:10]) if as_of else date.today()
        except (DomainError, ValueError):
            return None
        location = unit.location_on(on) or unit.locations[-1]
        return UnitPlace(unit.code, location.province_code, location.commune_code)

    def _unit(self, unit_ref: str) -> Unit:
        try:
            return self.app.get_unit(UUID(unit_ref))
        except ValueError:
            return self.app.get_unit_by_code(unit_ref)

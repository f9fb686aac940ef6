"""Registry application: commands and queries over Unit and AdminArea aggregates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from antt.actor import Actor
from antt.errors import parse_enum
from antt.eventstore.application import ServiceApplication
from antt.eventstore.group import GroupCommit
from services.registry import reference
from services.registry.area_commands import AreaCommands
from services.registry.catalog import Catalog
from services.registry.domain import details
from services.registry.domain.area_history import AreaKey, AreaKind, AreaLevel
from services.registry.domain.crosswalk import Histories, ancestor_as_of
from services.registry.domain.errors import (InvalidUnitFieldError, UnitAlreadyRegisteredError, UnitNotFoundError,
                                             UnknownAreaError, area_not_in_force, unit_closed)
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import (CODE_MAX, NAME_MAX, ClosureReason, Unit, UnitType, clean_text,
                                           parse_unit_type, registration_events)
from services.registry.unit_queries import UnitQueries


class Registry(AreaCommands, UnitQueries, ServiceApplication):
    """The registry of units and administrative areas (never rename: it names the tables)."""

    service_name = "registry"
    enums = (UnitType, AreaLevel, AreaKind, SizeClass, SchoolLevel, ClosureReason)

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        super().__init__(database_url, env)
        self.catalog = Catalog(self)
        # Concurrent RegisterUnit commands share transactions (see antt.eventstore.group).
        self._group = GroupCommit(self.save)

    def register_unit(self, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                      actor: Actor, effective_date: date | None = None, *,
                      facts: EligibilityFacts | None = None, household_count: int | None = None,
                      tax_code: str | None = None) -> Unit:
        """Register a unit in an official commune; a code can be registered once."""
        unit = self.new_unit(code, name, unit_type, province_code, commune_code, actor, effective_date, facts=facts,
                             household_count=household_count, tax_code=tax_code)
        try:
            self._group.save(unit)
        except IntegrityError:
            raise UnitAlreadyRegisteredError(unit.code) from None
        return unit

    def new_unit(self, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                 actor: Actor, effective_date: date | None = None, *,
                 facts: EligibilityFacts | None = None, histories: Histories | None = None,
                 household_count: int | None = None, tax_code: str | None = None) -> Unit:
        """Validate and build a Unit without saving it (bulk loads save many at once, with one `histories`)."""
        code, name, kind, effective = self._checked_registration(code, name, unit_type, province_code, commune_code,
                                                                 effective_date, histories, household_count, tax_code)
        unit = Unit(code=code, name=name, unit_type=kind, province_code=province_code, commune_code=commune_code,
                    actor=actor, effective_date=effective)
        if household_count is not None or tax_code:
            unit.declare_details(actor, household_count, tax_code)
        if facts is not None:
            unit.declare_facts(facts, effective, actor)
        return unit

    def new_unit_events(self, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                        actor: Actor, effective_date: date | None = None, *,
                        facts: EligibilityFacts | None = None, histories: Histories | None = None,
                        household_count: int | None = None, tax_code: str | None = None,
                        contacts: dict[str, str] | None = None, now: Callable[[], datetime] | None = None,
                        places: set[tuple[str, str, date]] | None = None) -> list[Unit.Event]:
        """The events `new_unit(...)` (then `update(**contacts)`) would collect, without building the aggregate.

        `places` remembers the (province, commune, date) found valid in `histories` across calls.
        """
        code, name, kind, effective = self._checked_registration(code, name, unit_type, province_code, commune_code,
                                                                 effective_date, histories, household_count, tax_code,
                                                                 places)
        return registration_events(code, name, kind, province_code, commune_code, actor, effective, facts=facts,
                                   household_count=household_count, tax_code=tax_code, contacts=contacts,
                                   now=now or Unit.Event.create_timestamp)

    def _checked_registration(self, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                              effective_date: date | None, histories: Histories | None, household_count: int | None,
                              tax_code: str | None, places: set[tuple[str, str, date]] | None = None,
                              ) -> tuple[str, str, UnitType, date]:
        """(code, name, type, effective date) of a new unit, checked; raises the first problem found."""
        code = clean_text(code, "code", "Mã đơn vị", CODE_MAX)
        name = clean_text(name, "name", "Tên đơn vị", NAME_MAX)
        kind = parse_unit_type(unit_type)
        effective = effective_date or date.today()
        if household_count is not None:
            details.household_count(kind, household_count)
        if tax_code is not None:
            details.tax_code(kind, tax_code)
        place = (province_code, commune_code, effective)
        if places is None or place not in places:  # only valid places are remembered: errors are raised afresh
            self._check_location(province_code, commune_code, effective, histories)
            if places is not None:
                places.add(place)
        return code, name, kind, effective

    def _check_location(self, province_code: str, commune_code: str, on: date,
                        histories: Histories | None = None) -> None:
        """The commune must exist on the date in that province: from the stored areas, else the 2025 list."""
        histories = self.catalog.histories() if histories is None else histories
        key = AreaKey(AreaLevel.COMMUNE, commune_code)
        if key in histories:
            if not histories[key].exists_on(on):
                raise area_not_in_force(commune_code, on, field="commune_code")
            province = ancestor_as_of(histories, key, on, AreaLevel.PROVINCE)
            if province is None or province.code != province_code:
                raise _not_in_province(commune_code, province_code)
            return
        if province_code not in reference.provinces():
            raise UnknownAreaError(f"Không có tỉnh/thành phố mã {province_code!r}",
                                   f"no province with code {province_code!r}", field="province_code")
        commune = reference.communes().get(commune_code)
        if commune is None or commune.province_code != province_code:
            raise _not_in_province(commune_code, province_code)

    def save_new(self, *units: Unit) -> None:
        """Save new units atomically; a code already registered rejects the whole save."""
        try:
            self.save(*units)
        except IntegrityError:
            codes = ", ".join(u.code for u in units[:5])
            raise UnitAlreadyRegisteredError(codes) from None

    def get_unit(self, unit_id: UUID) -> Unit:
        """The unit with this id."""
        try:
            return self.repository.get(unit_id)  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise UnitNotFoundError(str(unit_id)) from None

    def get_unit_by_code(self, code: str, field: str = "code") -> Unit:
        """The unit registered with this code."""
        try:
            return self.repository.get(Unit.create_id(code))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise UnitNotFoundError(code, field) from None

    def update_unit(self, unit_id: UUID, actor: Actor, **changes: Any) -> Unit:
        """Change name, managing authority, contacts, household count or tax code (keywords of Unit.update)."""
        unit = self.get_unit(unit_id)
        unit.update(actor, **changes)
        self.save(unit)
        return unit

    def declare_eligibility_facts(self, unit_id: UUID, facts: EligibilityFacts, effective_date: date,
                                  actor: Actor) -> Unit:
        """Record the facts that decide the unit's eligibility, from the effective date."""
        unit = self.get_unit(unit_id)
        unit.declare_facts(facts, effective_date, actor)
        self.save(unit)
        return unit

    def move_unit(self, unit_id: UUID, province_code: str, commune_code: str, effective_date: date,
                  actor: Actor) -> Unit:
        """Move an open unit to a commune that exists on the effective date."""
        unit = self.get_unit(unit_id)
        if unit.closed_on is not None:
            raise unit_closed(unit.code, unit.closed_on)
        self._check_location(province_code, commune_code, effective_date)
        unit.move(province_code, commune_code, effective_date, actor)
        self.save(unit)
        return unit

    def close_unit(self, unit_id: UUID, reason: ClosureReason | str, effective_date: date, actor: Actor,
                   successor_code: str = "") -> Unit:
        """Close a unit: dissolved, or merged into another open unit, from the effective date."""
        unit = self.get_unit(unit_id)
        why = _closure_reason(reason)
        if why is ClosureReason.MERGED and successor_code and successor_code != unit.code:
            successor = self.get_unit_by_code(successor_code, "successor_code")
            if successor.closed_on is not None:
                raise unit_closed(successor.code, successor.closed_on)
        unit.close(why, effective_date, actor, successor_code)
        self.save(unit)
        return unit


def _closure_reason(value: ClosureReason | str) -> ClosureReason:
    return parse_enum(ClosureReason, value, "reason", "Lý do chấm dứt", InvalidUnitFieldError)


def _not_in_province(commune_code: str, province_code: str) -> UnknownAreaError:
    return UnknownAreaError(f"Không có xã/phường/đặc khu mã {commune_code!r} thuộc tỉnh {province_code}",
                            f"no commune with code {commune_code!r} in province {province_code}",
                            field="commune_code")

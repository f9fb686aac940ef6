"""Registry application: commands and queries over Unit aggregates."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from antt.actor import Actor
from antt.eventstore.application import ServiceApplication
from services.registry import reference
from services.registry.domain.errors import UnitAlreadyRegisteredError, UnitNotFoundError, UnknownAreaError
from services.registry.domain.unit import CODE_MAX, NAME_MAX, Unit, UnitType, clean_text, parse_unit_type


class Registry(ServiceApplication):
    """The registry of units and administrative areas (never rename: it names the tables)."""

    service_name = "registry"
    enums = (UnitType,)

    def register_unit(self, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                      actor: Actor, effective_date: date | None = None) -> Unit:
        """Register a unit in an official commune; a code can be registered once."""
        unit = self.new_unit(code, name, unit_type, province_code, commune_code, actor, effective_date)
        self.save_new(unit)
        return unit

    def new_unit(self, code: str, name: str, unit_type: str, province_code: str, commune_code: str,
                 actor: Actor, effective_date: date | None = None) -> Unit:
        """Validate and build a Unit without saving it (bulk loads save many at once)."""
        code = clean_text(code, "code", "Mã đơn vị", CODE_MAX)
        name = clean_text(name, "name", "Tên đơn vị", NAME_MAX)
        kind = parse_unit_type(unit_type)
        if province_code not in reference.provinces():
            raise UnknownAreaError(f"Không có tỉnh/thành phố mã {province_code!r}",
                                   f"no province with code {province_code!r}", field="province_code")
        commune = reference.communes().get(commune_code)
        if commune is None or commune.province_code != province_code:
            raise UnknownAreaError(f"Không có xã/phường/đặc khu mã {commune_code!r} thuộc tỉnh {province_code}",
                                   f"no commune with code {commune_code!r} in province {province_code}",
                                   field="commune_code")
        return Unit(code=code, name=name, unit_type=kind, province_code=province_code, commune_code=commune_code,
                    actor=actor, effective_date=effective_date or date.today())

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

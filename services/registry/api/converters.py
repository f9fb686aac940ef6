"""Protobuf <-> domain values for the registry API."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from antt.grpcx.converters import parse_date
from antt.actor import Actor
from antt.contracts.meta import actor_pb
from antt.errors import InvalidArgumentError, parse_enum
from antt.registry.v1 import registry_service_pb2 as pb
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaHistory
from services.registry.domain.crosswalk import Histories, TreeNode
from services.registry.domain.eligibility import Eligibility
from services.registry.domain.errors import InvalidUnitFieldError
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.placement import UnitPlace, place_unit
from services.registry.domain.unit import Unit
from services.registry.unit_queries import HistoryEntry, eligibility_of

STATUS_OPEN = "hoat_dong"
STATUS_CLOSED = "cham_dut"



def required_date(value: str, field: str) -> date:
    """An ISO date that must be given."""
    parsed = parse_date(value, field)
    if parsed is None:
        raise InvalidArgumentError("Thiếu ngày hiệu lực", f"{field} is required", field=field)
    return parsed



def facts_from_pb(message: pb.EligibilityFacts) -> EligibilityFacts:
    """Domain facts from the API form; unknown size classes or levels are INVALID_ARGUMENT."""
    size = parse_enum(SizeClass, message.size_class, "size_class", "Quy mô doanh nghiệp",
                      InvalidUnitFieldError) if message.size_class else None
    levels = frozenset(parse_enum(SchoolLevel, lv, "school_levels", "Cấp học", InvalidUnitFieldError)
                       for lv in message.school_levels)
    return EligibilityFacts(message.armed_forces, size, parse_date(message.size_declared_on, "size_declared_on"),
                            levels)


def facts_to_pb(facts: EligibilityFacts) -> pb.EligibilityFacts:
    """API form of eligibility facts."""
    return pb.EligibilityFacts(
        armed_forces=facts.armed_forces, size_class=facts.size_class.value if facts.size_class else "",
        size_declared_on=facts.size_declared_on.isoformat() if facts.size_declared_on else "",
        school_levels=sorted(lv.value for lv in facts.school_levels))


def eligibility_to_pb(verdict: Eligibility) -> pb.Eligibility:
    """API form of an eligibility verdict."""
    return pb.Eligibility(eligible=verdict.eligible, reason_code=verdict.reason_code,
                          explanation_vi=verdict.explanation_vi, explanation_en=verdict.explanation_en)


def place_to_pb(place: UnitPlace | None, effective_from: date | None = None) -> pb.Place | None:
    """API form of a unit's place (None stays None)."""
    if place is None:
        return None
    return pb.Place(province_code=place.province_code, commune_code=place.commune_code, exact=place.exact,
                    candidates=list(place.candidates), recorded_commune_code=place.recorded_commune_code,
                    effective_from=(effective_from or place.on).isoformat())


def unit_to_pb(unit: Unit, on: date | None = None, histories: Histories | None = None,
               place: UnitPlace | None = None) -> pb.Unit:
    """The API form of a unit, with place, facts and eligibility as of `on` (today by default)."""
    on = on or date.today()
    if place is None and histories is not None:
        place = place_unit(unit, histories, on)
    closed = unit.is_closed_on(on)
    message = pb.Unit(
        unit_id=str(unit.id), code=unit.code, name=unit.name, unit_type=unit.unit_type.value,
        province_code=unit.province_code, commune_code=unit.commune_code, version=unit.version,
        status=STATUS_CLOSED if closed else STATUS_OPEN, registered_on=unit.effective_date.isoformat(),
        managing_authority=unit.managing_authority, contact_email=unit.contact_email,
        contact_webhook=unit.contact_webhook, facts=facts_to_pb(unit.facts_on(on)),
        eligibility=eligibility_to_pb(eligibility_of(unit, on)),
        closed_on=unit.closed_on.isoformat() if unit.closed_on else "",
        closure_reason=unit.closure_reason.value if unit.closure_reason else "",
        successor_code=unit.successor_code, as_of=on.isoformat(), household_count=unit.household_count,
        tax_code=unit.tax_code)
    place_pb = place_to_pb(place)
    if place_pb is not None:
        message.place.CopyFrom(place_pb)
    return message


def _text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return ";".join(_text(v) for v in value)
    if value is None:
        return ""
    return str(value)


def history_entry_to_pb(entry: HistoryEntry) -> pb.UnitHistoryEntry:
    """One stored event of a unit in API form (details as text)."""
    message = pb.UnitHistoryEntry(
        version=entry.version, event_type=entry.event, recorded_at=entry.recorded_at.isoformat(),
        effective_date=entry.effective_date.isoformat() if entry.effective_date else "",
        details={k: _text(v) for k, v in entry.details.items()})
    if isinstance(entry.actor, Actor):
        message.actor.CopyFrom(actor_pb(entry.actor))
    return message


def area_to_pb(area: AdminArea | AreaHistory, on: date | None = None, version: int = 0) -> pb.Area:
    """An area with its name, kind and parent as of `on` (the latest state when None)."""
    history = area.history() if isinstance(area, AdminArea) else area
    if isinstance(area, AdminArea):
        version = area.version
    state = history.state_on(on) if on is not None else history.states[-1]
    state = state or history.states[-1]
    return pb.Area(
        level=history.key.level.value, code=history.key.code, name=state.name, kind=state.kind.value,
        parent_level=state.parent.level.value if state.parent else "",
        parent_code=state.parent.code if state.parent else "",
        established_on=history.established_on.isoformat() if history.established_on else "",
        abolished_on=history.abolished_on.isoformat() if history.abolished_on else "",
        formed_from=list(history.formed_from), version=version, as_of=on.isoformat() if on else "")


def node_to_pb(node: TreeNode, history: AreaHistory | None, on: date) -> pb.Area:
    """An area of the tree on a date."""
    return pb.Area(
        level=node.key.level.value, code=node.key.code, name=node.name, kind=node.kind.value,
        parent_level=node.parent.level.value if node.parent else "",
        parent_code=node.parent.code if node.parent else "",
        established_on=history.established_on.isoformat() if history and history.established_on else "",
        abolished_on=history.abolished_on.isoformat() if history and history.abolished_on else "",
        formed_from=list(history.formed_from) if history else [], as_of=on.isoformat())

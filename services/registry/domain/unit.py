"""The Unit aggregate: a unit of the movement (khu dân cư, xã/phường, cơ quan, doanh nghiệp, cơ sở giáo dục)."""

from __future__ import annotations

import enum
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from eventsourcing.domain import event
from eventsourcing.utils import get_topic

from antt.actor import Actor
from antt.contracts.vocabulary import UnitType
from antt.errors import parse_enum
from antt.errors import InvalidArgumentError
from antt.eventstore.hashchain import GENESIS, ChainedAggregate, event_digest
from services.registry.domain import details
from services.registry.domain.errors import InvalidUnitFieldError, UnitRuleError, unit_closed, unit_effective_too_early
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass

NAME_MAX = 200
CODE_MAX = 50
# The consumers' replicas store these in columns of this width (PostgreSQL refuses longer values,
# which would send every later event of the unit to the dead-letter stream).
AUTHORITY_MAX = 16  # an area code, e.g. "01" or "00145"
WEBHOOK_MAX = 1000
UNIT_NAMESPACE = uuid.UUID("6f1d2a8e-3c1b-5b7e-9a55-0a1e7a6e2025")
# Unicode category Cc is exactly these 65 code points (C0, DEL and C1 controls); one regex search
# instead of a category lookup per character.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")




def clean_text(value: str, field: str, label_vi: str, max_length: int,
               error: type[InvalidArgumentError] = InvalidUnitFieldError) -> str:
    """NFC-normalised, trimmed text; rejects empty, over-long and control characters."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        raise error(f"{label_vi} không được để trống", f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise error(f"{label_vi} dài quá {max_length} ký tự", f"{field} is longer than {max_length} characters",
                    field=field)
    if _CONTROL.search(text):
        raise error(f"{label_vi} chứa ký tự điều khiển", f"{field} contains control characters", field=field)
    return text


def parse_unit_type(value: str) -> UnitType:
    """The UnitType named by `value`, or an INVALID_ARGUMENT error listing the valid ones."""
    return parse_enum(UnitType, value, "unit_type", "Loại đơn vị", InvalidUnitFieldError)


class ClosureReason(enum.Enum):
    """Why a unit stopped existing."""

    DISSOLVED = "dissolved"
    MERGED = "merged"


@dataclass(frozen=True)
class Location:
    """The commune (and its province as recorded) a unit is in from `effective_date`."""

    effective_date: date
    province_code: str
    commune_code: str


class Unit(ChainedAggregate):
    """A registered unit; its id is derived from its code, so a code can be registered only once."""

    @staticmethod
    def create_id(code: str) -> uuid.UUID:
        """Unit ids are UUID5 of the code: a second registration of a code collides in the store."""
        return uuid.uuid5(UNIT_NAMESPACE, code)

    @event("Registered")
    def __init__(self, code: str, name: str, unit_type: UnitType, province_code: str, commune_code: str,
                 actor: Actor, effective_date: date) -> None:
        self.code = code
        self.name = name
        self.unit_type = unit_type
        self.province_code = province_code
        self.commune_code = commune_code
        self.registered_by = actor
        self.effective_date = effective_date
        self.locations = [Location(effective_date, province_code, commune_code)]
        self.facts_history: list[tuple[date, EligibilityFacts]] = []
        self.managing_authority = ""
        self.contact_email = ""
        self.contact_webhook = ""
        self.closed_on: date | None = None
        self.closure_reason: ClosureReason | None = None
        self.successor_code = ""
        self.last_change_on = effective_date
        self.household_count: int | None = None
        self.tax_code = ""

    # -- reading ---------------------------------------------------------------------------------

    def location_on(self, on: date) -> Location | None:
        """Where the unit was recorded on the date; None before registration or after closure."""
        if on < self.effective_date or (self.closed_on is not None and on >= self.closed_on):
            return None
        current = self.locations[0]
        for loc in self.locations[1:]:
            if loc.effective_date <= on:
                current = loc
        return current

    def facts_on(self, on: date) -> EligibilityFacts:
        """The eligibility facts in force on the date (the latest declared on or before it)."""
        current = EligibilityFacts()
        for effective, facts in self.facts_history:
            if effective <= on:
                current = facts
        return current

    def is_closed_on(self, on: date) -> bool:
        """Whether the unit was closed on the date."""
        return self.closed_on is not None and on >= self.closed_on

    def check_change(self, effective_date: date) -> None:
        """A dated change must not touch a closed unit nor be dated before its last dated change."""
        if self.closed_on is not None:
            raise unit_closed(self.code, self.closed_on)
        if effective_date < self.last_change_on:
            raise unit_effective_too_early(self.code, effective_date, self.last_change_on)

    # -- commands --------------------------------------------------------------------------------

    def declare_facts(self, facts: EligibilityFacts, effective_date: date, actor: Actor) -> None:
        """Record eligibility facts; each fact is accepted only for the unit type it concerns."""
        self.check_change(effective_date)
        check_facts(self.unit_type, facts)
        self._facts_declared(**facts_state(facts, effective_date, actor))

    @event("EligibilityFactsDeclared")
    def _facts_declared(self, armed_forces: bool, size_class: SizeClass | None, size_declared_on: date | None,
                        school_levels: list[SchoolLevel], effective_date: date, actor: Actor) -> None:
        facts = EligibilityFacts(armed_forces, size_class, size_declared_on, frozenset(school_levels))
        self.facts_history.append((effective_date, facts))
        self.last_change_on = effective_date

    def declare_details(self, actor: Actor, household_count: int | None = None, tax_code: str | None = None) -> None:
        """Set the household count (khu dân cư) and/or tax code (doanh nghiệp; "" clears it); None keeps a field."""
        if self.closed_on is not None:
            raise unit_closed(self.code, self.closed_on)
        count, mst = details_after(self.unit_type, self.household_count, self.tax_code, household_count, tax_code)
        if (count, mst) != (self.household_count, self.tax_code):
            self._details_declared(household_count=count, tax_code=mst, actor=actor)

    @event("DetailsDeclared")
    def _details_declared(self, household_count: int | None, tax_code: str, actor: Actor) -> None:
        self.household_count = household_count
        self.tax_code = tax_code

    def update(self, actor: Actor, name: str | None = None, managing_authority: str | None = None,
               contact_email: str | None = None, contact_webhook: str | None = None,
               household_count: int | None = None, tax_code: str | None = None) -> None:
        """Change name, managing authority, reminder contacts or details (None leaves a field as it is)."""
        if self.closed_on is not None:
            raise unit_closed(self.code, self.closed_on)
        if household_count is not None:  # validate every field before recording anything
            details.household_count(self.unit_type, household_count)
        if tax_code is not None:
            details.tax_code(self.unit_type, tax_code)
        only_details = household_count is not None or tax_code is not None
        if only_details and (name, managing_authority, contact_email, contact_webhook) == (None, None, None, None):
            self.declare_details(actor, household_count, tax_code)
            return
        changes = updated_fields((self.name, self.managing_authority, self.contact_email, self.contact_webhook),
                                 name, managing_authority, contact_email, contact_webhook)
        self._updated(**changes, actor=actor)
        if household_count is not None or tax_code is not None:
            self.declare_details(actor, household_count, tax_code)

    @event("Updated")
    def _updated(self, name: str, managing_authority: str, contact_email: str, contact_webhook: str,
                 actor: Actor) -> None:
        self.name = name
        self.managing_authority = managing_authority
        self.contact_email = contact_email
        self.contact_webhook = contact_webhook

    def move(self, province_code: str, commune_code: str, effective_date: date, actor: Actor) -> None:
        """Move the unit to another commune from the effective date (the caller checks the commune exists)."""
        self.check_change(effective_date)
        self._moved(province_code=province_code, commune_code=commune_code, effective_date=effective_date,
                    actor=actor)

    @event("Moved")
    def _moved(self, province_code: str, commune_code: str, effective_date: date, actor: Actor) -> None:
        self.locations.append(Location(effective_date, province_code, commune_code))
        self.last_change_on = effective_date

    def close(self, reason: ClosureReason, effective_date: date, actor: Actor, successor_code: str = "") -> None:
        """Close the unit (dissolved, or merged into the unit `successor_code`) from the effective date."""
        self.check_change(effective_date)
        if reason is ClosureReason.MERGED:
            successor_code = clean_text(successor_code, "successor_code", "Mã đơn vị tiếp nhận", CODE_MAX)
            if successor_code == self.code:
                raise UnitRuleError(f"Không thể sáp nhập đơn vị {self.code} vào chính nó",
                                    f"unit {self.code} cannot be merged into itself", field="successor_code",
                                    reason="UNIT_MERGED_INTO_ITSELF")
        elif successor_code:
            raise InvalidUnitFieldError("Chỉ đơn vị sáp nhập mới có đơn vị tiếp nhận",
                                        "only a merged unit has a successor", field="successor_code")
        self._closed(reason=reason, successor_code=successor_code, effective_date=effective_date, actor=actor)

    @event("Closed")
    def _closed(self, reason: ClosureReason, successor_code: str, effective_date: date, actor: Actor) -> None:
        self.closed_on = effective_date
        self.closure_reason = reason
        self.successor_code = successor_code
        self.last_change_on = effective_date


def facts_state(facts: EligibilityFacts, effective_date: date, actor: Actor) -> dict[str, object]:
    """The state of an EligibilityFactsDeclared event (school levels in a stable order)."""
    return {"armed_forces": facts.armed_forces, "size_class": facts.size_class,
            "size_declared_on": facts.size_declared_on,
            "school_levels": sorted(facts.school_levels, key=lambda lv: lv.value),
            "effective_date": effective_date, "actor": actor}


def registration_events(code: str, name: str, unit_type: UnitType, province_code: str, commune_code: str,
                        actor: Actor, effective_date: date, *, facts: EligibilityFacts | None = None,
                        household_count: int | None = None, tax_code: str | None = None,
                        contacts: dict[str, str] | None = None,
                        now: Callable[[], datetime] = Unit.Event.create_timestamp) -> list[Unit.Event]:
    """The chained events a new Unit stores, made without the aggregate (bulk imports make thousands).

    The same events, in the same order, as `Unit(...)`, then `declare_details` (when a household count
    or tax code is given), `declare_facts` (when facts are given) and `update(**contacts)` (when any),
    then `collect_events()`; the inputs are checked the same way and in the same order. The arguments
    are those of `Registry.new_unit` after its own checks; `now` gives each event its timestamp.
    """
    unit_id = Unit.create_id(code)
    events: list[Unit.Event] = [Unit.Registered(  # type: ignore[call-arg]
        originator_id=unit_id, originator_version=1, timestamp=now(), originator_topic=_UNIT_TOPIC, code=code,
        name=name, unit_type=unit_type, province_code=province_code, commune_code=commune_code, actor=actor,
        effective_date=effective_date)]
    if household_count is not None or tax_code:
        count, mst = details_after(unit_type, None, "", household_count, tax_code)
        if (count, mst) != (None, ""):
            events.append(Unit.DetailsDeclared(  # type: ignore[call-arg]
                originator_id=unit_id, originator_version=len(events) + 1, timestamp=now(), household_count=count,
                tax_code=mst, actor=actor))
    if facts is not None:  # check_change passes: the facts take effect on the registration date
        check_facts(unit_type, facts)
        events.append(Unit.EligibilityFactsDeclared(  # type: ignore[call-arg]
            originator_id=unit_id, originator_version=len(events) + 1, timestamp=now(),
            **facts_state(facts, effective_date, actor)))
    if contacts:
        changes = updated_fields((name, "", "", ""), contacts.get("name"), contacts.get("managing_authority"),
                                 contacts.get("contact_email"), contacts.get("contact_webhook"))
        events.append(Unit.Updated(  # type: ignore[call-arg]
            originator_id=unit_id, originator_version=len(events) + 1, timestamp=now(), **changes, actor=actor))
    head = GENESIS
    for e in events:  # the chain ChainedAggregate.collect_events makes
        e.__dict__["prev_digest"] = head
        e.__dict__["digest"] = head = event_digest(e)
    return events


def details_after(unit_type: UnitType, current_count: int | None, current_tax: str, household_count: int | None,
                  tax_code: str | None) -> tuple[int | None, str]:
    """(household count, tax code) after a declaration (None keeps a field), each checked for the unit type."""
    count = details.household_count(unit_type, household_count) if household_count is not None else current_count
    mst = details.tax_code(unit_type, tax_code) if tax_code is not None else current_tax
    return count, mst


def updated_fields(current: tuple[str, str, str, str], name: str | None, managing_authority: str | None,
                   contact_email: str | None, contact_webhook: str | None) -> dict[str, str]:
    """The state of an Updated event: each given field checked, the others as they are in `current`.

    `current` is (name, managing authority, contact e-mail, contact webhook); the checks run in this order.
    """
    now_name, now_authority, now_email, now_webhook = current
    return {
        "name": clean_text(name, "name", "Tên đơn vị", NAME_MAX) if name is not None else now_name,
        "managing_authority": (clean_text(managing_authority, "managing_authority", "Cơ quan quản lý", AUTHORITY_MAX)
                               if managing_authority else now_authority),
        "contact_email": _email(contact_email) if contact_email is not None else now_email,
        "contact_webhook": _webhook(contact_webhook) if contact_webhook is not None else now_webhook,
    }


_UNIT_TOPIC = get_topic(Unit)


def _email(value: str) -> str:
    """An e-mail address for reminders ("" clears it)."""
    if value == "":
        return ""
    text = clean_text(value, "contact_email", "Thư điện tử", 254)
    local, _, domain = text.partition("@")
    if not local or "." not in domain or " " in text:
        raise InvalidUnitFieldError(f"Thư điện tử không hợp lệ: {text!r}", f"invalid e-mail address {text!r}",
                                    field="contact_email")
    return text


def _webhook(value: str) -> str:
    """An http(s) webhook URL for reminders ("" clears it)."""
    if value == "":
        return ""
    text = clean_text(value, "contact_webhook", "Địa chỉ webhook", WEBHOOK_MAX)
    if not text.startswith(("https://", "http://")) or " " in text:
        raise InvalidUnitFieldError(f"Địa chỉ webhook không hợp lệ: {text!r}", f"invalid webhook URL {text!r}",
                                    field="contact_webhook")
    return text


def check_facts(unit_type: UnitType, facts: EligibilityFacts) -> None:
    """Each eligibility fact belongs to one unit type; an enterprise size class needs its declaration date."""
    if facts.armed_forces and unit_type is not UnitType.CO_QUAN:
        raise InvalidUnitFieldError("Chỉ cơ quan mới có thuộc tính lực lượng vũ trang",
                                    "only a cơ quan can be an armed-forces agency", field="armed_forces")
    if (facts.size_class or facts.size_declared_on) and unit_type is not UnitType.DOANH_NGHIEP:
        raise InvalidUnitFieldError("Chỉ doanh nghiệp mới có quy mô doanh nghiệp",
                                    "only a doanh nghiep has a size class", field="size_class")
    if facts.size_class and facts.size_declared_on is None:
        raise InvalidUnitFieldError("Quy mô doanh nghiệp phải kèm ngày kê khai",
                                    "a size class needs the date it was declared", field="size_declared_on")
    if facts.school_levels and unit_type is not UnitType.CO_SO_GIAO_DUC:
        raise InvalidUnitFieldError("Chỉ cơ sở giáo dục mới có cấp học", "only a co so giao duc has school levels",
                                    field="school_levels")

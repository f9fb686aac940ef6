"""The registry's published language: domain events -> antt.events.v1 payloads.

Events that do not carry the unit's place or the area's code read the aggregate as it stood at
that event's version, so every subject names its province and commune.
"""

from __future__ import annotations

import collections
import functools
from datetime import date
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.utils import get_topic

from antt.contracts.meta import event_meta
from antt.contracts.vocabulary import UnitType
from antt.events.v1 import registry_pb2 as pb
from antt.relay import state
from antt.relay.outbox import Published
from services.registry.domain import eligibility
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaLevel
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import Unit


def eligibility_pb(unit_type: Any, facts: EligibilityFacts, closed: bool = False) -> pb.Eligibility:
    """The derived eligibility of a unit, in its published form."""
    e = eligibility.assess(unit_type, facts, closed)
    return pb.Eligibility(eligible=e.eligible, reason_code=e.reason_code, explanation_vi=e.explanation_vi,
                          explanation_en=e.explanation_en)


# A pure function of a few hashable values that the relay asks for once per unit event: the answers
# for the handful of (type, facts) combinations an import repeats are computed once. Callers only
# read the message (a payload field assignment copies it).
_eligibility_pb_cached = functools.lru_cache(maxsize=4096)(eligibility_pb)


@functools.lru_cache(maxsize=None)
def _registered_eligibility(unit_type: str) -> pb.Eligibility:
    """The eligibility a unit of this type is registered with (no facts declared yet)."""
    return _eligibility_pb_cached(UnitType(unit_type), EligibilityFacts())


class _UnitHead(NamedTuple):
    """The fields of a unit, as of `version`, that its later events publish besides their own."""

    version: int
    code: str
    name: str
    unit_type: str
    province_code: str
    commune_code: str
    household_count: int | None
    tax_code: str


def _head(unit: Unit) -> _UnitHead:
    """The head of a unit aggregate (what the state path needs for the unit's next event)."""
    here = unit.locations[-1]
    return _UnitHead(unit.version, unit.code, unit.name, unit.unit_type.value, here.province_code,
                     here.commune_code, unit.household_count, unit.tax_code)


REGISTERED, DETAILS, FACTS, UPDATED, MOVED, CLOSED = (get_topic(c) for c in (
    Unit.Registered, Unit.DetailsDeclared, Unit.EligibilityFactsDeclared, Unit.Updated, Unit.Moved, Unit.Closed))


def _facts_from_state(stored: state.StoredState) -> EligibilityFacts:
    """The EligibilityFacts an EligibilityFactsDeclared event's stored state declares (as Unit applies them)."""
    size, declared = stored.value("size_class"), stored.value("size_declared_on")
    return EligibilityFacts(bool(stored.state["armed_forces"]), SizeClass(size) if size is not None else None,
                            date.fromisoformat(declared) if declared is not None else None,
                            frozenset(SchoolLevel(level["_data_"]) for level in stored.state["school_levels"]))


class RegistryPublisher:
    """Maps stored registry events to published messages; reads aggregates from `app` when needed."""

    RECENT = 10_000  # aggregates kept for the relay's next events (it reads them in position order)
    # Unit events are mapped from their stored state (antt.relay.state) when the unit's previous
    # version was just mapped; area events (a few thousand in all) always go through to_message.
    state_topics = frozenset({REGISTERED, DETAILS, FACTS, UPDATED, MOVED, CLOSED})

    def __init__(self, app: Any) -> None:
        self.app = app
        self._recent: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        # Units as of the version last mapped, oldest first (popitem(last=False) is O(1), where deleting
        # a plain dict's first key after many pops scans the deleted slots).
        self._heads: collections.OrderedDict[UUID, _UnitHead] = collections.OrderedDict()

    def _keep_head(self, uid: UUID, head: _UnitHead) -> None:
        self._heads[uid] = head
        if len(self._heads) > self.RECENT:
            self._heads.popitem(last=False)

    def to_message_from_state(self, stored: state.StoredState) -> Published | None:
        """The published form of a unit event from its stored state; None to decode it instead.

        The same message to_message makes from the decoded event. A unit's later event is mapped here
        only when the unit's previous version was mapped (its code, type, place and details then come
        from there); otherwise the relay decodes it and to_message reads the aggregate.
        """
        uid, version, topic, s = stored.originator_id, stored.originator_version, stored.topic, stored.state
        meta = state.event_meta(stored)
        if topic == REGISTERED:
            head = _UnitHead(version, s["code"], s["name"], stored.value("unit_type"), s["province_code"],
                             s["commune_code"], None, "")
            self._keep_head(uid, head)
            payload: Any = pb.UnitRegistered(
                meta=meta, unit_id=stored.aggregate_id, code=head.code, name=head.name, unit_type=head.unit_type,
                province_code=head.province_code, commune_code=head.commune_code,
                eligibility=_registered_eligibility(head.unit_type))
            return Published(payload, head.province_code, head.commune_code)
        before = self._heads.pop(uid, None)
        if before is None or before.version != version - 1:
            return None
        head = before._replace(version=version)
        if topic == FACTS:
            facts = _facts_from_state(stored)
            payload = pb.UnitEligibilityFactsDeclared(
                meta=meta, unit_id=stored.aggregate_id, code=head.code, unit_type=head.unit_type,
                province_code=head.province_code, commune_code=head.commune_code, armed_forces=facts.armed_forces,
                size_class=facts.size_class.value if facts.size_class else "",
                size_declared_on=facts.size_declared_on.isoformat() if facts.size_declared_on else "",
                school_levels=sorted(level.value for level in facts.school_levels),
                eligibility=_eligibility_pb_cached(UnitType(head.unit_type), facts))
        elif topic == DETAILS:
            head = head._replace(household_count=s["household_count"], tax_code=s["tax_code"])
            payload = pb.UnitDetailsDeclared(
                meta=meta, unit_id=stored.aggregate_id, code=head.code, unit_type=head.unit_type,
                province_code=head.province_code, commune_code=head.commune_code,
                household_count=head.household_count, tax_code=head.tax_code)
        elif topic == UPDATED:
            head = head._replace(name=s["name"])
            payload = pb.UnitUpdated(
                meta=meta, unit_id=stored.aggregate_id, code=head.code, name=head.name,
                managing_authority=s["managing_authority"], contact_email=s["contact_email"],
                contact_webhook=s["contact_webhook"], province_code=head.province_code,
                commune_code=head.commune_code, household_count=head.household_count, tax_code=head.tax_code)
        elif topic == MOVED:
            head = head._replace(province_code=s["province_code"], commune_code=s["commune_code"])
            payload = pb.UnitMoved(
                meta=meta, unit_id=stored.aggregate_id, code=head.code, from_province_code=before.province_code,
                from_commune_code=before.commune_code, province_code=head.province_code,
                commune_code=head.commune_code)
        else:  # CLOSED
            payload = pb.UnitClosed(meta=meta, unit_id=stored.aggregate_id, code=head.code, reason=stored.value("reason"),
                                    successor_code=s["successor_code"], province_code=head.province_code,
                                    commune_code=head.commune_code)
        self._keep_head(uid, head)
        return Published(payload, head.province_code, head.commune_code)

    def _at(self, event: Any) -> Any:
        # The relay maps events in order, so the aggregate it needs is usually the one it saw one
        # version earlier: apply this event to it instead of replaying the aggregate from the store.
        recent = self._recent.pop(event.originator_id, None)
        if isinstance(recent, Unit.Registered):  # built only when a later event of the unit needs it
            recent = recent.mutate(None)
        if recent is not None and recent.version == event.originator_version - 1:
            aggregate = event.mutate(recent)
        else:
            aggregate = self.app.repository.get(event.originator_id, version=event.originator_version)
        self._remember(aggregate)
        return aggregate

    def _remember(self, aggregate: Any) -> None:
        """Keep an aggregate (or a unit's Registered event) for the next event of the same originator."""
        self._recent[aggregate.originator_id if isinstance(aggregate, Unit.Registered) else aggregate.id] = aggregate
        if len(self._recent) > self.RECENT:
            self._recent.popitem(last=False)

    def to_message(self, event: Any) -> Published | None:
        """The published form of a stored registry event (None for internal events)."""
        if isinstance(event, Unit.Event):
            return self._unit(event)
        if isinstance(event, AdminArea.Event):
            return self._area(event)
        return None

    def _unit(self, event: Any) -> Published | None:
        meta = event_meta(event)
        uid = str(event.originator_id)
        if isinstance(event, Unit.Registered):
            self._remember(event)
            self._keep_head(event.originator_id, _UnitHead(
                event.originator_version, event.code, event.name, event.unit_type.value, event.province_code, event.commune_code, None, ""))
            payload = pb.UnitRegistered(
                meta=meta, unit_id=uid, code=event.code, name=event.name, unit_type=event.unit_type.value,
                province_code=event.province_code, commune_code=event.commune_code,
                eligibility=_eligibility_pb_cached(event.unit_type, EligibilityFacts()))
            return Published(payload, event.province_code, event.commune_code)
        unit = self._at(event)
        self._keep_head(event.originator_id, _head(unit))  # the unit's next event can then be read from its state
        province, commune = unit.locations[-1].province_code, unit.locations[-1].commune_code
        if isinstance(event, Unit.EligibilityFactsDeclared):
            facts = unit.facts_history[-1][1]
            payload = pb.UnitEligibilityFactsDeclared(
                meta=meta, unit_id=uid, code=unit.code, unit_type=unit.unit_type.value, province_code=province,
                commune_code=commune, armed_forces=facts.armed_forces,
                size_class=facts.size_class.value if facts.size_class else "",
                size_declared_on=facts.size_declared_on.isoformat() if facts.size_declared_on else "",
                school_levels=sorted(level.value for level in facts.school_levels),
                eligibility=_eligibility_pb_cached(unit.unit_type, facts))
        elif isinstance(event, Unit.Updated):
            payload = pb.UnitUpdated(
                meta=meta, unit_id=uid, code=unit.code, name=unit.name, managing_authority=unit.managing_authority,
                contact_email=unit.contact_email, contact_webhook=unit.contact_webhook, province_code=province,
                commune_code=commune, household_count=unit.household_count, tax_code=unit.tax_code)
        elif isinstance(event, Unit.DetailsDeclared):
            payload = pb.UnitDetailsDeclared(
                meta=meta, unit_id=uid, code=unit.code, unit_type=unit.unit_type.value, province_code=province,
                commune_code=commune, household_count=event.household_count, tax_code=event.tax_code)
        elif isinstance(event, Unit.Moved):
            before = unit.locations[-2]
            payload = pb.UnitMoved(meta=meta, unit_id=uid, code=unit.code, from_province_code=before.province_code,
                                   from_commune_code=before.commune_code, province_code=province,
                                   commune_code=commune)
        elif isinstance(event, Unit.Closed):
            payload = pb.UnitClosed(meta=meta, unit_id=uid, code=unit.code, reason=event.reason.value,
                                    successor_code=event.successor_code, province_code=province,
                                    commune_code=commune)
        else:
            return None
        return Published(payload, province, commune)

    def _area(self, event: Any) -> Published | None:
        meta = event_meta(event)
        area = self._at(event)
        level, code, state = area.level.value, area.code, area.current
        parent = state.parent
        if area.level is AreaLevel.PROVINCE:
            province, commune = code, ""
        elif area.level is AreaLevel.COMMUNE and parent is not None and parent.level is AreaLevel.PROVINCE:
            province, commune = parent.code, code
        else:
            province, commune = "", ""
        basis = getattr(event, "legal_basis", "")
        if isinstance(event, AdminArea.Created):
            payload: Any = pb.AreaCreated(
                meta=meta, level=level, code=code, name=state.name, kind=state.kind.value,
                parent_level=parent.level.value if parent else "", parent_code=parent.code if parent else "",
                legal_basis=basis)
        elif isinstance(event, AdminArea.Renamed):
            payload = pb.AreaRenamed(meta=meta, level=level, code=code, name=event.name, kind=event.kind.value,
                                     legal_basis=basis)
        elif isinstance(event, AdminArea.Reparented):
            payload = pb.AreaReparented(meta=meta, level=level, code=code, parent_level=event.parent_level.value,
                                        parent_code=event.parent_code, legal_basis=basis)
        elif isinstance(event, AdminArea.Abolished):
            payload = pb.AreaAbolished(meta=meta, level=level, code=code, legal_basis=basis)
        elif isinstance(event, AdminArea.MergedInto):
            payload = pb.AreaMergedInto(meta=meta, level=level, code=code, target_code=event.target_code,
                                        legal_basis=basis)
        elif isinstance(event, AdminArea.SplitUp):
            payload = pb.AreaSplitUp(meta=meta, level=level, code=code, target_codes=list(event.target_codes),
                                     continues=event.continues, legal_basis=basis)
        elif isinstance(event, AdminArea.Absorbed):
            payload = pb.AreaAbsorbed(meta=meta, level=level, code=code, source_codes=list(event.source_codes),
                                      whole=event.whole, legal_basis=basis)
        else:
            return None
        return Published(payload, province, commune)

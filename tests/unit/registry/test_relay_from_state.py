"""The relay's state path (a message from the stored JSON state) sends what the decoding path sends."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.contracts import envelope
from antt.contracts.vocabulary import UnitType
from antt.errors import DomainError
from antt.relay import state
from antt.relay.outbox import Published
from antt.testing.relay import assert_same_outgoing, offline_relay
from services.registry.application import Registry
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import registration_events
from services.registry.published import RegistryPublisher
from tests.unit.registry.conftest import OFFICER

pytestmark = pytest.mark.unit

PLACES = [("31", "11948"), ("01", "00145")]
DATES = [date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)]
TYPES = ["khu_dan_cu", "doanh_nghiep", "co_so_giao_duc", "co_quan"]
# Any text JSON can store (no lone surrogates), including what the envelope cleans (spaces, CR, LF).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
ACTORS = st.builds(Actor, id=TEXT, role=TEXT, tier=TEXT, jurisdiction=TEXT) | st.just(OFFICER)
# Facts of each unit type (mostly accepted), and now and then any mix (refused unless it fits).
FACTS = st.one_of(
    st.builds(EligibilityFacts, armed_forces=st.booleans()),
    st.builds(EligibilityFacts, size_class=st.sampled_from(SizeClass), size_declared_on=st.sampled_from(DATES)),
    st.builds(EligibilityFacts, school_levels=st.frozensets(st.sampled_from(SchoolLevel), max_size=5)),
    st.builds(EligibilityFacts, armed_forces=st.booleans(), size_class=st.none() | st.sampled_from(SizeClass),
              size_declared_on=st.none() | st.sampled_from(DATES),
              school_levels=st.frozensets(st.sampled_from(SchoolLevel), max_size=3)))
OPS = st.one_of(
    st.tuples(st.just("facts"), FACTS, st.sampled_from(DATES)),
    st.tuples(st.just("details"), st.none() | st.integers(0, 5000), st.sampled_from([None, "", "0101234567"])),
    st.tuples(st.just("update"), st.none() | st.sampled_from(["Thôn Mới", " Tổ 5 "]),
              st.none() | st.sampled_from(["UBND xã", ""]), st.none() | st.sampled_from(["a@b.vn", ""]),
              st.none() | st.sampled_from(["https://ubnd.example.vn/hook", ""])),
    st.tuples(st.just("move"), st.sampled_from(PLACES), st.sampled_from(DATES)),
    st.tuples(st.just("close"), st.sampled_from(["dissolved", "merged"])),
)
UNITS = st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(PLACES), st.none() | FACTS,
                           st.none() | st.integers(0, 5000), st.booleans(), ACTORS,
                           st.lists(st.tuples(OPS, ACTORS), max_size=4)), min_size=1, max_size=4)


class _Counting(RegistryPublisher):
    """Counts the messages the state path made (so the equivalence is never vacuous)."""

    made = 0

    def to_message_from_state(self, stored: state.StoredState) -> Published | None:
        published = super().to_message_from_state(stored)
        self.made += published is not None
        return published


def _apply(app: Registry, unit_id: Any, op: tuple[Any, ...], actor: Actor) -> None:
    """One later change of a unit; the ones its rules refuse are left out."""
    kind = op[0]
    try:
        if kind == "facts":
            app.declare_eligibility_facts(unit_id, op[1], op[2], actor)
        elif kind == "details":
            app.update_unit(unit_id, actor, household_count=op[1], tax_code=op[2])
        elif kind == "update":
            app.update_unit(unit_id, actor, name=op[1], managing_authority=op[2], contact_email=op[3],
                            contact_webhook=op[4])
        elif kind == "move":
            app.move_unit(unit_id, op[1][0], op[1][1], op[2], actor)
        else:
            app.close_unit(unit_id, op[1], DATES[-1], actor, successor_code="KDC-0" if op[1] == "merged" else "")
    except DomainError:
        pass


def _store(units: list[Any]) -> Registry:
    app = Registry()
    ids = []
    for i, (kind, (province, commune), facts, households, imported, actor, _) in enumerate(units):
        code = f"{'KDC' if i == 0 else 'U'}-{i}"
        households = households if kind == "khu_dan_cu" else None
        tax = "0101234567" if kind == "doanh_nghiep" and households else None
        try:  # facts of another unit type are refused: the unit is then registered without them
            app.new_unit(code, f"Đơn vị {i}", kind, province, commune, actor, DATES[0], facts=facts)
        except DomainError:
            facts = None
        if imported:  # what an import stores: the events made without the aggregate, encoded and recorded
            events = registration_events(code, f"Đơn vị {i}", UnitType(kind), province, commune, actor, DATES[0],
                                         facts=facts, household_count=households, tax_code=tax,
                                         contacts={"contact_webhook": "https://a.vn/h"} if i % 2 else None)
            app.record([app.mapper.to_stored_event(e) for e in events])
            ids.append(events[0].originator_id)
        else:
            ids.append(app.register_unit(code, f"Đơn vị {i}", kind, province, commune, actor, DATES[0], facts=facts,
                                         household_count=households, tax_code=tax).id)
    for unit_id, (*_, ops) in zip(ids, units):
        for op, actor in ops:
            _apply(app, unit_id, op, actor)
    return app


def assert_same_messages(app: Registry, start: int = 0) -> int:
    """Every notification after `start` gives the same message both ways; return how many the state path made."""
    fast_publisher = _Counting(app)
    fast = offline_relay("registry", app, fast_publisher, True)
    slow = offline_relay("registry", app, RegistryPublisher(app), False)
    assert fast._state_topics and not slow._state_topics
    assert_same_outgoing(fast, slow, app.iter_notifications(after=start), "REGISTRY")
    return fast_publisher.made


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(units=UNITS, data=st.data())
def test_unit_events_from_their_state_are_the_messages_decoding_gives(units: list[Any], data: st.DataObject) -> None:
    app = _store(units)
    last = app.recorder.max_notification_id() or 0
    assert assert_same_messages(app) > 0
    # A relay that starts mid-way (after a restart) meets later versions first: decoded, then from the state.
    assert_same_messages(app, data.draw(st.integers(0, last), label="start"))


def test_area_events_interleaved_with_units_are_decoded_and_the_same() -> None:
    app = Registry()
    app.load_reference_tree(OFFICER, commune_provinces={"31"})
    unit = app.register_unit("DN-1", "Công ty TNHH Minh Phát", "doanh_nghiep", "31", "11948", OFFICER, DATES[0],
                             facts=EligibilityFacts(size_class=SizeClass.LON, size_declared_on=DATES[0]),
                             tax_code="0101234567")
    app.move_unit(unit.id, "31", "11948", DATES[1], OFFICER)
    app.close_unit(unit.id, "dissolved", DATES[2], OFFICER)
    assert assert_same_messages(app) == 5


def test_the_state_path_is_off_when_states_are_not_plain_json() -> None:
    app = Registry(env={"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"})
    app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", OFFICER, DATES[0])
    assert not state.readable(app.mapper)
    assert not offline_relay("registry", app, RegistryPublisher(app), True)._state_topics
    relay = offline_relay("registry", app, RegistryPublisher(app), True)
    message = relay.outgoing(next(iter(app.iter_notifications())))
    assert message is not None and message.subject == "antt.registry.v1.UnitRegistered.31.11948"

"""The direct JSON writer of the hash chain gives byte for byte what the json module gave over `canonical`.

Stored chains must still verify: every digest of the old implementation (kept here as the
specification) must equal the new one, for any value and for real events of every aggregate kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.errors import DomainError
from antt.eventstore.hashchain import canonical, canonical_json, event_digest, share, verify
from eventsourcing.utils import get_topic
from services.assessment.application import Assessments
from services.assessment.domain.states import Outcome
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.domain.values import CriterionResult, EvidenceRef
from services.assessment.rules import UnitType, load_catalogue
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from tests.unit.assessment import builders as b
from tests.unit.kernel.test_canonical import Colour, Level, Tagged

pytestmark = pytest.mark.unit


def old_json(value: Any, compact: bool = True) -> str:
    """The previous implementation: canonical form, then the json module."""
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":") if compact else (", ", ": "),
                      ensure_ascii=False)


def old_event_digest(event: Any) -> str:
    """The previous event_digest, verbatim."""
    state = {k: v for k, v in event.__dict__.items() if k != "digest"}
    body = {"topic": get_topic(type(event)), "state": canonical(state)}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Frozen:
    """A frozen value whose text may be remembered (unless it holds something mutable)."""

    z: Any
    a: Any = None


@dataclasses.dataclass
class Mutable:
    """A dataclass that may change: its text is never remembered."""

    b: Any
    a: Any = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Slotted:
    """A frozen dataclass without a __dict__."""

    y: Any
    x: Any = 1


NAMES = st.text(min_size=1, max_size=3).filter(str.strip)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.floats(),  # NaN and ±Infinity too
    st.dates(), st.datetimes(timezones=st.none() | st.just(timezone.utc)), st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from(list(Colour) + list(Level) + list(SizeClass) + list(SchoolLevel)),
    st.builds(Actor, st.text(max_size=5), st.text(max_size=5), st.text(max_size=5)),
    st.builds(EligibilityFacts, st.booleans(), st.none() | st.sampled_from(list(SizeClass)), st.none() | st.dates(),
              st.frozensets(st.sampled_from(list(SchoolLevel)))),
    st.builds(EvidenceRef, NAMES, NAMES, st.just("a" * 64), st.text(max_size=3)),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.frozensets(st.sampled_from(list(SchoolLevel)) | st.text(max_size=3), max_size=4),
    st.dictionaries(st.text(max_size=4) | st.integers() | st.booleans(), inner, max_size=4),
    st.dictionaries(st.text(max_size=4), inner, max_size=3).map(Tagged),
    st.builds(Frozen, inner, inner), st.builds(Frozen, inner, inner).map(share),  # shared: its text is kept
    st.builds(Mutable, inner, inner), st.builds(Slotted, inner, inner)),
    max_leaves=14)


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the same refusal (e.g. a type json cannot write) counts as the same
        return ("error", type(exc))


@settings(max_examples=600, deadline=None)
@given(values, st.booleans())
def test_the_writer_gives_the_json_of_the_canonical_form(value: Any, compact: bool) -> None:
    want = outcome(old_json, value, compact)
    assert outcome(canonical_json, value, compact) == want
    assert outcome(canonical_json, value, compact) == want  # again, from the remembered texts
    assert outcome(canonical_json, [value, value], compact) == outcome(old_json, [value, value], compact)


@settings(max_examples=200, deadline=None)
@given(values, values)
def test_a_remembered_text_never_hides_a_change(first: Any, second: Any) -> None:
    box = share(Frozen([first]))  # holds a list: must not be remembered, shared or not
    canonical_json(box)
    box.z.append(second)
    assert canonical_json(box) == old_json(box)
    held = share(Frozen(Mutable(first)))  # holds a mutable dataclass: must not be remembered either
    canonical_json(held)
    held.z.b = second
    assert canonical_json(held) == old_json(held)


def test_classes_and_unknown_types_are_refused_as_before() -> None:
    for value in (Actor, date, object(), {1: object()}):
        assert outcome(canonical_json, value) == outcome(old_json, value)


def year_of_events(unit_type: UnitType) -> tuple[list[Any], Assessments]:
    """Every event of one case through a whole year, as stored and replayed."""
    catalogue = load_catalogue()
    p = b.profile(f"U-{unit_type.value}", unit_type)
    app = Assessments(rules=catalogue, units=StaticUnitDirectory([p]))
    actor = Actor(id="u:can-bo", role="can_bo", tier="xa", jurisdiction=b.COMMUNE)
    case = b.appraised_in_app(app, p, actor)
    authority = b.xa_authority() if unit_type is not UnitType.CO_QUAN else b.tinh_authority()
    try:
        app.decide_many({case.id: Outcome.CHUA_DAT}, b.decision(authority), actor)
    except DomainError:  # a tier that may not decide: the events up to appraisal still count
        pass
    return [app.mapper.to_domain_event(n) for n in app.iter_notifications()], app


@pytest.mark.parametrize("unit_type", list(UnitType))
def test_digests_of_real_events_are_unchanged(unit_type: UnitType) -> None:
    events, app = year_of_events(unit_type)
    assert len(events) >= 4
    for e in events:
        assert event_digest(e) == old_event_digest(e) == e.__dict__["digest"]
        assert event_digest(e) == old_event_digest(e)  # after the values remembered their texts
    assert list(verify(app.iter_notifications(), app.mapper.to_domain_event)) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.builds(CriterionResult, st.text(min_size=1, max_size=4), st.none() | st.booleans(),
                          st.none() | st.floats() | st.integers(), st.none() | st.floats(), st.booleans(),
                          st.lists(st.builds(EvidenceRef, NAMES, NAMES,
                                             st.just("b" * 64), st.text(max_size=3)), max_size=2).map(tuple),
                          st.text(max_size=5)), max_size=5))
def test_assessment_digest_is_unchanged(results: list[CriterionResult]) -> None:
    _, app = year_of_events(UnitType.KHU_DAN_CU)
    case = next(iter(app.cases._items.values()))
    case.results = {r.criterion_id: r for r in results}
    case._assessment_changed()
    body = canonical({"results": case.results, "documents": case.documents, "findings": case.findings})
    want = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert case.assessment_digest() == want


def test_only_shared_values_keep_their_text() -> None:
    # a text kept on every value would hold each cached case's assessment twice more in memory
    alone, shared = Frozen("x", 1), share(Frozen("x", 1))
    assert canonical_json(alone) == canonical_json(shared) == old_json(alone)
    assert vars(alone) == {"z": "x", "a": 1}
    assert canonical_json(shared, compact=False) in vars(shared).values()

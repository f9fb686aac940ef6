"""The import's StoredEventEncoder stores any event exactly as the application's mapper does."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import TranscodingNotRegisteredError
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from services.registry.application import Registry
from services.registry.domain.facts import SchoolLevel, SizeClass
from services.registry.domain.unit import Unit
from services.registry.importing.encoding import StoredEventEncoder

pytestmark = pytest.mark.unit


class Probe:
    """An event-like object: the mapper reads its class, its class_version and its attribute dict."""


class Versioned:
    """An event class at version 3: the mapper adds class_version to the state."""

    class_version = 3


APP = Registry()
ACTORS = st.builds(Actor, st.sampled_from(("u:1", "u:2", "é")), st.sampled_from(("officer", "x")),
                   st.sampled_from(("province", "bo")))
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
          | st.dates() | st.sampled_from(list(SizeClass) + list(SchoolLevel)) | ACTORS | st.uuids()
          | st.decimals(allow_nan=False, allow_infinity=False)
          | st.datetimes(timezones=st.sampled_from((timezone.utc, timezone(timedelta(hours=7))))))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from(("timestamp", "code", "actor", "a", "tên", '"q"', "class_version", "digest"))


@settings(max_examples=300, deadline=None)
@given(attributes=st.lists(st.tuples(KEYS, VALUES), max_size=6), kind=st.sampled_from((Probe, Versioned)),
       memo_max=st.sampled_from((1, 2, 4096)))
def test_any_event_is_stored_as_the_mapper_stores_it(attributes: list[tuple[str, Any]], kind: type,
                                                     memo_max: int) -> None:
    encode = StoredEventEncoder(APP.mapper)
    encode.memo_max = memo_max  # small: remembered texts are dropped and made again
    events = []
    for version in (1, 2):  # the second event of a class and names goes through the writer made for the first
        event = kind()
        event.__dict__.update(originator_id=UUID(int=version), originator_version=version)
        event.__dict__.update(attributes)
        events.append(event)
    assert [encode(e) for e in events] == [APP.mapper.to_stored_event(e) for e in events]


def test_equal_instants_in_two_zones_are_not_confused() -> None:
    encode = StoredEventEncoder(APP.mapper)
    first, second = Probe(), Probe()
    at = Unit.Event.create_timestamp()
    for event, when in ((first, at), (second, at.astimezone(timezone(timedelta(hours=7))))):
        event.__dict__.update(originator_id=UUID(int=1), originator_version=1, timestamp=when, on=when.date())
    assert [encode(e) for e in (first, second)] == [APP.mapper.to_stored_event(e) for e in (first, second)]
    assert encode(first).state != encode(second).state


def test_a_value_without_transcoding_is_refused_as_by_the_mapper() -> None:
    event = Probe()
    event.__dict__.update(originator_id=UUID(int=1), originator_version=1, bad=object())
    with pytest.raises(TranscodingNotRegisteredError):
        APP.mapper.to_stored_event(event)
    with pytest.raises(TranscodingNotRegisteredError):
        StoredEventEncoder(APP.mapper)(event)

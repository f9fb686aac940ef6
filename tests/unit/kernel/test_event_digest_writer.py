"""event_digest frames each event class's state once: the same digest as the definition, for any attributes."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.eventstore.hashchain import canonical, digest_text, event_digest, share
from eventsourcing.utils import get_topic
from services.registry.domain.facts import SchoolLevel, SizeClass

pytestmark = pytest.mark.unit


class Probe:
    """An event-like object: event_digest reads only its class and its attribute dict."""


class OtherProbe:
    """Another class: the same attributes give another topic, so another text."""


def definition(event: Any) -> str:
    """The digest as first defined: the json module over the canonical form of topic and state."""
    state = {k: v for k, v in event.__dict__.items() if k != "digest"}
    body = {"topic": get_topic(type(event)), "state": canonical(state)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode("utf-8")).hexdigest()


SHARED_ACTOR = share(Actor("u:1", "officer", "province", "31"))
KEYS = st.sampled_from(("digest", "prev_digest", "a", "b", "timestamp", "z", "Ä", "tên", "_x", "a b", '"q"'))
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8)
          | st.dates() | st.sampled_from(list(SizeClass) + list(SchoolLevel))
          | st.builds(Actor, st.text(max_size=4), st.text(max_size=4), st.text(max_size=4)) | st.just(SHARED_ACTOR)
          | st.uuids() | st.decimals(allow_nan=False, allow_infinity=False)
          | st.datetimes(timezones=st.sampled_from((timezone.utc, timezone(timedelta(hours=7))))))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                      | st.frozensets(st.integers(), max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                      max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(attributes=st.lists(st.tuples(KEYS, VALUES), max_size=8), other=st.booleans())
def test_event_digest_is_the_definition(attributes: list[tuple[str, Any]], other: bool) -> None:
    event = (OtherProbe if other else Probe)()
    event.__dict__.update(attributes)  # keys in any order, "digest" sometimes among them
    text = digest_text(event)
    assert event_digest(event) == definition(event) == hashlib.sha256(text.encode()).hexdigest()
    assert event_digest(event) == definition(event)  # again, through the writer made for these names


def test_one_writer_per_class_and_names_so_a_change_of_keys_or_values_changes_the_digest() -> None:
    first, second, third = Probe(), Probe(), OtherProbe()
    first.__dict__.update(a=1, b="x", timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc))
    second.__dict__.update(b="x", a=1, timestamp=datetime(2026, 1, 1, 7, tzinfo=timezone(timedelta(hours=7))))
    third.__dict__.update(a=1, b="x", timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc))
    digests = [event_digest(e) for e in (first, second, third)]
    assert digests == [definition(e) for e in (first, second, third)]
    assert len(set(digests)) == 3  # the same instant in another zone is another text; another class another topic
    first.__dict__["a"] = 2
    assert event_digest(first) == definition(first) != digests[0]
    first.__dict__["digest"] = "ignored"
    assert event_digest(first) == definition(first)


def test_values_the_json_module_refuses_are_refused_as_before() -> None:
    event = Probe()
    event.__dict__.update(a=date(2026, 1, 1), b=object())
    with pytest.raises(TypeError):
        definition(event)
    with pytest.raises(TypeError):
        event_digest(event)


def test_known_kinds_of_values_keep_their_digest() -> None:
    event = Probe()
    event.__dict__.update(originator_id=UUID(int=7), amount=Decimal("1.50"), actor=SHARED_ACTOR,
                          levels=frozenset({SchoolLevel.THCS}) if hasattr(SchoolLevel, "THCS") else frozenset(),
                          size=list(SizeClass)[0], on=date(2025, 7, 1))
    assert event_digest(event) == definition(event)

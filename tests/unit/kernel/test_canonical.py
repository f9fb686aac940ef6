"""The hash chain's canonical form: the per-type dispatch gives exactly what the isinstance chain it replaced gave."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.eventstore.hashchain import canonical
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass

pytestmark = pytest.mark.unit


def reference(value: Any) -> Any:
    """The original canonical form (before the per-type dispatch), kept as the specification."""
    if isinstance(value, dict):
        return {str(k): reference(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [reference(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(reference(v) for v in value)
    if isinstance(value, enum.Enum):
        return reference(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return reference({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    return value


class Colour(str, enum.Enum):
    """A str-valued enum: a str subclass that must still be stored by value."""

    RED = "do"
    BLUE = "xanh"


class Level(enum.IntEnum):
    """An int subclass that must still be stored by value."""

    ONE = 1
    TWO = 2


class Tagged(dict):  # type: ignore[type-arg]
    """A dict subclass."""


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(allow_nan=False), st.dates(), st.datetimes(timezones=st.just(timezone.utc)), st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.sampled_from(list(Colour) + list(Level) + list(SizeClass) + list(SchoolLevel)),
    st.builds(Actor, st.text(max_size=5), st.text(max_size=5), st.text(max_size=5)),
    st.builds(EligibilityFacts, st.booleans(), st.none() | st.sampled_from(list(SizeClass)), st.none() | st.dates(),
              st.frozensets(st.sampled_from(list(SchoolLevel)))),
    st.just(Actor), st.just(date),  # classes are kept as they are
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.frozensets(st.sampled_from(list(SchoolLevel)) | st.text(max_size=3), max_size=4),
    st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=4),
    st.dictionaries(st.text(max_size=4), inner, max_size=3).map(Tagged)), max_leaves=12)


def typed(value: Any) -> Any:
    """The value with the exact type of every part (an enum member is not equal to its value here)."""
    if isinstance(value, dict):
        return (type(value), [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return (list, [typed(v) for v in value])
    return (type(value), value)


@settings(max_examples=400, deadline=None)
@given(values)
def test_canonical_equals_the_reference_form(value: Any) -> None:
    got, want = canonical(value), reference(value)
    assert typed(got) == typed(want)
    assert json.dumps(got, default=repr) == json.dumps(want, default=repr)

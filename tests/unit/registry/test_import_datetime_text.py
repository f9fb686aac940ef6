"""The import encoder's datetime shortcut gives what the mapper gives."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.registry.application import Registry
from services.registry.importing.encoding import StoredEventEncoder

pytestmark = pytest.mark.unit

APP = Registry()
ZONES = st.none() | st.sampled_from((timezone.utc, timezone(timedelta(hours=7)), timezone(timedelta(hours=-3, minutes=-30))))


class Probe:
    """An event-like object: the mapper reads its class and its attribute dict."""


@settings(max_examples=300, deadline=None)
@given(moments=st.lists(st.datetimes(timezones=ZONES), min_size=1, max_size=4))
def test_datetimes_are_stored_as_the_mapper_stores_them(moments: list[datetime]) -> None:
    encode = StoredEventEncoder(APP.mapper)
    assert encode._datetime_head is not None  # the inline path is the one tested here
    events = []
    for version, moment in enumerate(moments, 1):
        event = Probe()
        event.__dict__.update(originator_id=uuid.UUID(int=version), originator_version=version, timestamp=moment,
                              nested=[moment])
        events.append(event)
    assert [encode(e) for e in events] == [APP.mapper.to_stored_event(e) for e in events]


def test_a_datetime_transcoding_of_its_own_is_used_as_the_mapper_uses_it() -> None:
    app = Registry()
    transcoding = app.mapper.transcoder.types[datetime]  # type: ignore[attr-defined]

    class Shifted(type(transcoding)):  # type: ignore[misc]
        def encode(self, obj: datetime) -> str:
            return "at " + obj.isoformat()

    app.mapper.transcoder.types[datetime] = Shifted()  # type: ignore[attr-defined]
    encode = StoredEventEncoder(app.mapper)
    assert encode._datetime_head is None
    event = Probe()
    event.__dict__.update(originator_id=uuid.UUID(int=1), originator_version=1,
                          timestamp=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert encode(event) == app.mapper.to_stored_event(event)
    assert b'"at 2026-01-02T00:00:00+00:00"' in encode(event).state

"""A scoped replay pauses the cyclic garbage collector while it holds its events, and overlapping replays
leave it as they found it."""

from __future__ import annotations

import gc

import pytest

from services.reporting.replay import collector_paused

pytestmark = pytest.mark.unit


def test_overlapping_pauses_resume_the_collector_after_the_last() -> None:
    assert gc.isenabled()
    outer = collector_paused()
    outer.__enter__()
    assert not gc.isenabled()
    with collector_paused():  # a second replay on the event loop meanwhile
        assert not gc.isenabled()
    assert not gc.isenabled()  # the first still holds its events
    outer.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_failing_replay_resumes_the_collector() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("stream gone")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()

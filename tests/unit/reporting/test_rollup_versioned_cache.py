"""The report cache: one computation per (key, version) however many ask at once, bounded in size and age."""

from __future__ import annotations

import threading
import time

import pytest

from services.reporting.rollup.cache import VersionedCache

pytestmark = pytest.mark.unit


def test_concurrent_askers_share_one_computation_and_a_new_version_replaces_the_old() -> None:
    cache: VersionedCache[int] = VersionedCache()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return len(calls)

    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", (1,), slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [1] * 8 and cache.computed == 1
    assert cache.get("k", (2,), lambda: 42) == 42 and cache.get("k", (2,), lambda: 0) == 42
    assert cache.get("k", (1,), lambda: 7) == 7  # the old version was dropped, not served


def test_entries_age_out_and_the_least_recent_key_is_evicted_and_failures_are_not_kept() -> None:
    now = [0.0]
    cache: VersionedCache[str] = VersionedCache(max_entries=2, max_age=10, clock=lambda: now[0])
    cache.get("a", (), lambda: "a1")
    cache.get("b", (), lambda: "b1")
    cache.get("a", (), lambda: "unused")  # a is now the most recent
    cache.get("c", (), lambda: "c1")      # evicts b
    assert cache.get("b", (), lambda: "b2") == "b2"
    now[0] = 11
    assert cache.get("c", (), lambda: "c2") == "c2"

    def fail() -> str:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cache.get("d", (), fail)
    assert cache.get("d", (), lambda: "d1") == "d1"

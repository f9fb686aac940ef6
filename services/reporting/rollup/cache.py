"""Computed reports kept per (year, scope, boundary, day) while the read models have not changed.

A report is a pure function of the read models (and the day, and the shipped targets), and the read models
change only when a consumer applies events, which raises the counter of `projections/version.py` in the same
transaction. The counter lives in the shared database, so every replica sees the same version, on SQLite and
PostgreSQL alike, whatever order the events are applied in. The version is read before the report in the
same transaction, so a cached report is never older than its key (a newer report under an older key is
recomputed when the key moves on).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from services.reporting.projections import version

MAX_ENTRIES = 32  # reports kept (a national report with its award list weighs a few MB)
MAX_AGE_SECONDS = 3600.0  # an entry is dropped an hour after it was computed (memory), never because it is stale

Version = tuple[int, ...]
V = TypeVar("V")


def data_version(conn: sa.Connection) -> Version:
    """What the read models have applied: the counter every applied batch raises."""
    return (version.current(conn),)


@dataclass
class _Entry(Generic[V]):
    value: V
    made: float


@dataclass
class VersionedCache(Generic[V]):
    """A small LRU of values by (key, data version); one computation per key at a time, the others wait for it."""

    max_entries: int = MAX_ENTRIES
    max_age: float = MAX_AGE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[tuple[Hashable, Version], _Entry[V]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _computing: dict[tuple[Hashable, Version], threading.Lock] = field(default_factory=dict)
    computed: int = 0  # how many values were computed (not served from the cache): for tests and metrics

    def _fresh(self, full: tuple[Hashable, Version]) -> V | None:
        with self._lock:
            entry = self._entries.get(full)
            if entry is None:
                return None
            if self.clock() - entry.made > self.max_age:
                del self._entries[full]
                return None
            self._entries.move_to_end(full)
            return entry.value

    def get(self, key: Hashable, version: Version, compute: Callable[[], V]) -> V:
        """The value of `key` at `version`, computed (once, whoever asks meanwhile) when not kept."""
        full = (key, version)
        value = self._fresh(full)
        if value is not None:
            return value
        with self._lock:
            gate = self._computing.setdefault(full, threading.Lock())
        with gate:
            value = self._fresh(full)  # computed by whoever held the gate
            if value is not None:
                return value
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    self._computing.pop(full, None)
                raise
            with self._lock:
                self._computing.pop(full, None)
                self.computed += 1
                # other versions of the same key are dead: drop them now rather than when they age out
                for old in [k for k in self._entries if k[0] == key]:
                    del self._entries[old]
                self._entries[full] = _Entry(value, self.clock())
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return value

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._entries.clear()


def report_key(year: int, scope: str, boundary: str, today: Any) -> Hashable:
    """The cache key of a live report (without its data version)."""
    return (year, scope or "national", boundary or "then", str(today))

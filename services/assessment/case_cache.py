"""Recently saved cases kept in memory, so a command does not replay its case from the event store.

A case is cached only after its events are committed, and each command gets its own copy (cheap:
the only mutable parts of a case are its dicts and its pending-event list; every other attribute is
an immutable value). The cache never decides anything on its own: `Assessments` re-runs a command
on the stored case when the save of a cached one clashes (another writer, e.g. a replica, was first)
or when the command fails on it, so the outcome is always the one the stored history gives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

DEFAULT_SIZE = 20_000  # cases (a few kB each): the working set of a busy season, well under the memory target


def clone(aggregate: Any) -> Any:
    """A copy sharing the immutable values, with fresh dicts, lists and sets (what a command may change)."""
    copy = object.__new__(type(aggregate))
    state = {}
    for name, value in aggregate.__dict__.items():
        if isinstance(value, (dict, list, set)):
            value = type(value)(value)
        state[name] = value
    copy.__dict__.update(state)
    return copy


class CaseCache:
    """A bounded LRU of committed aggregates by id; `get` hands out copies, the cached ones never change."""

    def __init__(self, maxsize: int = DEFAULT_SIZE) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._items: OrderedDict[UUID, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def peek(self, aggregate_id: UUID) -> Any:
        """The cached aggregate itself (read only: for its immutable facts), or None."""
        with self._lock:
            return self._items.get(aggregate_id)

    def get(self, aggregate_id: UUID) -> Any:
        """A private copy of the cached aggregate, or None."""
        with self._lock:
            found = self._items.get(aggregate_id)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(aggregate_id)
            self.hits += 1
        return clone(found)

    def put(self, aggregate: Any) -> None:
        """Remember an aggregate whose events are all committed (a copy: the caller keeps using its own)."""
        kept = clone(aggregate)
        with self._lock:
            current = self._items.get(aggregate.id)
            if current is not None and current.version > kept.version:
                return  # a later committed state is already here
            self._items[aggregate.id] = kept
            self._items.move_to_end(aggregate.id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def evict(self, aggregate_id: UUID) -> None:
        """Forget an aggregate (its cached state may be behind the store)."""
        with self._lock:
            self._items.pop(aggregate_id, None)

    def __len__(self) -> int:
        return len(self._items)

"""Group commit: saves from concurrent threads share one event-store transaction.

Each command thread hands over its aggregates' new events and waits. One waiting thread at a
time (the leader) saves everything queued in a single `Application.save`, so N concurrent
commands cost one transaction and one commit instead of N. When that save fails (a unit code
registered twice, say), each command's events are saved again on their own, so every command
gets its own outcome and one bad command never rejects another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 200  # events per shared transaction


@dataclass
class _Request:
    """One command's events and, once done, its error."""

    events: Sequence[Any]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead rather than because it was saved
    finished: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Coalesces `save(*events)` calls from concurrent threads into shared transactions."""

    def __init__(self, save: Callable[..., Any], limit: int = DEFAULT_LIMIT) -> None:
        self._save = save
        self._limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False  # a leader is saving

    def save(self, *aggregates: Any) -> None:
        """Save the aggregates' pending events (in this call's order); raises what saving them alone raised."""
        request = _Request([e for a in aggregates for e in a.collect_events()])
        with self._lock:
            self._queue.append(request)
            request.lead = not self._busy
            self._busy = True
        if not request.lead:
            request.done.wait()
        if not request.finished:  # this thread leads: save one batch (its own request is first), then hand over
            self._lead()
        if request.error is not None:
            raise request.error

    def _lead(self) -> None:
        with self._lock:
            batch, taken = [], 0
            while self._queue and (not batch or taken + len(self._queue[0].events) <= self._limit):
                taken += len(self._queue[0].events)
                batch.append(self._queue.pop(0))
        try:
            self._commit(batch)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.set()
                else:
                    self._busy = False

    def _commit(self, batch: list[_Request]) -> None:
        try:
            self._save(*[e for r in batch for e in r.events])
        except BaseException as exc:  # noqa: BLE001 - every failure is given back to its own command
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for r in batch:
                    try:
                        self._save(*r.events)
                    except BaseException as own:  # noqa: BLE001
                        r.error = own
        for r in batch:
            r.finished = True
            r.done.set()

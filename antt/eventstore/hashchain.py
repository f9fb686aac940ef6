"""A hash chain over each aggregate's events, stored inside the events themselves.

Every event of a ChainedAggregate carries `prev_digest` (the digest of the aggregate's previous
event, "" for the first) and `digest` = SHA-256 over its topic and canonical state. Changing any
stored byte changes a recomputed digest, so `verify` names the aggregate and version.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

GENESIS = ""


def _canonical_dict(value: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}


def _handler(kind: type) -> Callable[[Any], Any]:
    """How `canonical` treats values of this exact type (the same tests, in the same order, as isinstance)."""
    if issubclass(kind, dict):
        return _canonical_dict
    if issubclass(kind, (list, tuple)):
        return lambda value: [canonical(v) for v in value]
    if issubclass(kind, (set, frozenset)):
        return lambda value: sorted(canonical(v) for v in value)
    if issubclass(kind, enum.Enum):
        return lambda value: canonical(value.value)
    if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
        names = tuple(f.name for f in dataclasses.fields(kind))
        return lambda value: _canonical_dict({name: getattr(value, name) for name in names})
    if issubclass(kind, (datetime, date)):
        return lambda value: value.isoformat()
    if issubclass(kind, (UUID, Decimal)):
        return str
    return _same


def _same(value: Any) -> Any:
    return value


# One handler per exact type, found once: digests are computed for every event saved or verified.
_HANDLERS: dict[type, Callable[[Any], Any]] = {str: _same, int: _same, float: _same, bool: _same,
                                                 type(None): _same}


def canonical(value: Any) -> Any:
    """A JSON-ready form that is the same before storing and after decoding."""
    handler = _HANDLERS.get(type(value))
    if handler is None:
        handler = _HANDLERS[type(value)] = _handler(type(value))
    return handler(value)


def event_digest(event: Any) -> str:
    """SHA-256 of an event's topic and state, leaving out its own digest."""
    state = {k: v for k, v in event.__dict__.items() if k != "digest"}
    body = {"topic": get_topic(type(event)), "state": canonical(state)}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class ChainedAggregate(Aggregate):
    """Base of every aggregate whose history must be tamper-evident."""

    class Event(Aggregate.Event):
        """Base event: remembers the chain head on the aggregate when replayed from the store."""

        def mutate(self, aggregate: Any) -> Any:
            result = super().mutate(aggregate)
            digest = self.__dict__.get("digest")
            if result is not None and digest is not None:
                result.__dict__["_chain_head"] = digest
            return result

    def collect_events(self) -> Any:
        """Pending events, each chained to the previous one before it is stored."""
        events = super().collect_events()
        head = self.__dict__.get("_chain_head", GENESIS)
        for e in events:
            if "digest" not in e.__dict__:
                e.__dict__["prev_digest"] = head
                e.__dict__["digest"] = event_digest(e)
            head = e.__dict__["digest"]
        self.__dict__["_chain_head"] = head
        return events


@dataclass(frozen=True)
class ChainBreak:
    """An event whose stored digest or link does not match its recomputed value."""

    originator_id: str
    version: int
    position: int
    reason: str

    def __str__(self) -> str:
        return f"aggregate {self.originator_id} version {self.version} (position {self.position}): {self.reason}"


def verify(notifications: Iterable[Any], to_domain_event: Any) -> Iterator[ChainBreak]:
    """Recompute every chain from stored notifications (in position order); yield each break."""
    heads: dict[str, str] = {}
    for n in notifications:
        oid = str(n.originator_id)
        try:
            event = to_domain_event(n)
        except Exception as exc:  # a corrupted record may not even decode
            yield ChainBreak(oid, n.originator_version, n.id, f"cannot decode: {exc}")
            heads[oid] = "<broken>"
            continue
        stored = event.__dict__.get("digest")
        if stored is None:
            continue  # not a chained aggregate
        if event.__dict__.get("prev_digest") != heads.get(oid, GENESIS):
            yield ChainBreak(oid, n.originator_version, n.id, "link to the previous event does not match")
        elif event_digest(event) != stored:
            yield ChainBreak(oid, n.originator_version, n.id, "digest does not match the stored event")
        heads[oid] = stored

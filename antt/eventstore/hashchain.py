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
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # the C encoder json.dumps uses
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


SHARED = "_antt_shared"  # not state: marks a frozen value that many events hold (see share)


def share(value: Any) -> Any:
    """Mark a frozen value as held by many events, so forms derived from it (its JSON text) are kept on it.

    Only shared values keep them: a text kept on every value would cost each cached case its whole
    assessment again in memory, for values that are written once or twice.
    """
    state = getattr(value, "__dict__", None)
    if state is not None:
        state[SHARED] = True
    return value


class _JSONWriter:
    """`json.dumps(canonical(value), sort_keys=True, ensure_ascii=False, separators=…)`, written directly.

    The same bytes without building the canonical copy first and without re-sorting it, and the text
    of a shared immutable value (a frozen dataclass marked by `share`, holding only immutable values)
    is remembered on the value itself: a criterion line shared by thousands of decisions is written once.
    Anything this writer does not know exactly (sets, dicts with keys that are not str, types that
    `canonical` leaves alone) goes through the reference path, so the output never differs from it.
    """

    def __init__(self, item_separator: str, key_separator: str) -> None:
        self.item, self.key = item_separator, key_separator
        self.memo = f"_antt_json{len(item_separator)}{len(key_separator)}"  # per separators: not state
        self.writers: dict[type, Callable[[Any], str]] = {
            str: encode_basestring, int: int.__repr__, bool: lambda v: "true" if v else "false",
            type(None): lambda v: "null", float: _float_json}
        writers = self.writers

        def write(value: Any) -> str:
            writer = writers.get(type(value))
            if writer is None:
                writer = writers[type(value)] = self._writer(type(value))
            return writer(value)
        self.write = write

    def __call__(self, value: Any) -> str:
        return self.write(value)

    def reference(self, value: Any) -> str:
        """The definition: the canonical form, encoded by the json module."""
        return json.dumps(canonical(value), sort_keys=True, separators=(self.item, self.key), ensure_ascii=False)

    def _dict(self, value: dict[Any, Any]) -> str:
        if not all(type(k) is str for k in value):  # str(k) could collide or sort differently
            return self.reference(value)
        key, item = self.key, self.item
        write = self.write
        return "{" + item.join([encode_basestring(k) + key + write(value[k]) for k in sorted(value)]) + "}"

    def _writer(self, kind: type) -> Callable[[Any], str]:
        """The same tests, in the same order, as `_handler`."""
        if issubclass(kind, dict):
            return self._dict
        if issubclass(kind, (list, tuple)):
            return lambda value: "[" + self.item.join(map(self.write, value)) + "]"
        if issubclass(kind, (set, frozenset)):
            return self.reference
        if issubclass(kind, enum.Enum):
            return lambda value: self.write(value.value)
        if dataclasses.is_dataclass(kind) and not issubclass(kind, type):
            return self._dataclass_writer(kind)
        if issubclass(kind, (datetime, date)):
            return lambda value: encode_basestring(value.isoformat())
        if issubclass(kind, (UUID, Decimal)):
            return lambda value: encode_basestring(str(value))
        return self.reference  # canonical leaves it as it is: the json module decides

    def _dataclass_writer(self, kind: type) -> Callable[[Any], str]:
        """A writer made for this dataclass: its keys sorted and written once, one expression per field."""
        names = sorted(f.name for f in dataclasses.fields(kind))
        frozen = bool(getattr(kind, "__dataclass_params__").frozen)
        space: dict[str, Any] = {"W": self.write, "S": encode_basestring, "A": _ATOMS, "I": self._immutable,
                                 "memo": self.memo, "shared": SHARED, "getattr": getattr}
        reads, parts, checks = [], [], []
        for i, name in enumerate(names):
            space[f"K{i}"] = ("{" if i == 0 else self.item) + encode_basestring(name) + self.key
            reads.append(f"    f{i} = getattr(value, {name!r})")
            parts.append(f"K{i} + (S(f{i}) if type(f{i}) is str else W(f{i}))")
            checks.append(f"(type(f{i}) in A or I(f{i}))")
        lines = ["def write(value):"]
        if frozen:  # the text of a shared frozen value is remembered on it (when it has a __dict__)
            lines += ["    d = getattr(value, '__dict__', None)", "    if d is not None:",
                      "        t = d.get(memo)", "        if t is not None:", "            return t"]
        lines += reads
        lines.append("    text = " + (" + ".join(parts) if parts else "'{'") + " + '}'")
        if frozen:
            lines.append(f"    if d is not None and shared in d and {' and '.join(checks) or 'True'}:")
            lines.append("        d[memo] = text  # never reassigned: frozen (this bypasses __setattr__)")
        lines.append("    return text")
        exec("\n".join(lines), space)  # noqa: S102  # code built only from the dataclass's field names
        return space["write"]  # type: ignore[no-any-return]

    def _immutable(self, value: Any) -> bool:
        """Whether a field value can never change, so its text can be remembered."""
        kind = type(value)
        if kind in _ATOMS or isinstance(value, enum.Enum):
            return True
        if kind is tuple or kind is frozenset:
            return all(self._immutable(v) for v in value)
        return self.memo in getattr(value, "__dict__", _NO_DICT)  # a frozen dataclass remembered above


_NO_DICT: dict[str, Any] = {}
_ATOMS = frozenset({str, int, float, bool, type(None), date, datetime, UUID, Decimal})


def _float_json(value: float) -> str:
    """A float as the json module writes it (allow_nan)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


COMPACT_JSON = _JSONWriter(",", ":")  # event digests
SPACED_JSON = _JSONWriter(", ", ": ")  # json.dumps' default separators


def canonical_json(value: Any, compact: bool = True) -> str:
    """`json.dumps(canonical(value), sort_keys=True, ensure_ascii=False)` (compact separators unless told)."""
    return (COMPACT_JSON if compact else SPACED_JSON)(value)


def digest_text(event: Any) -> str:
    """The text an event's digest is taken of (the definition: see `_digest_text_writer` for the fast form)."""
    state = {k: v for k, v in event.__dict__.items() if k != "digest"}
    # = json.dumps({"topic": …, "state": canonical(state)}, sort_keys=True, separators=(",", ":"), …)
    return '{"state":' + COMPACT_JSON(state) + ',"topic":' + encode_basestring(get_topic(type(event))) + "}"


# Per (event class, attribute names in order): a function writing `digest_text` of such an event.
_DIGEST_WRITERS: dict[tuple[type, tuple[str, ...]], Callable[[dict[str, Any]], str]] = {}


def _digest_text_writer(kind: type, names: tuple[str, ...]) -> Callable[[dict[str, Any]], str]:
    """`digest_text` for events of this class with these attributes: keys sorted and framed once, not per event.

    The same bytes as COMPACT_JSON over the state dict (sorted str keys, each value by `COMPACT_JSON.write`).
    """
    keys = sorted(n for n in names if n != "digest")
    space: dict[str, Any] = {"W": COMPACT_JSON.write, "S": encode_basestring}
    parts = []
    for i, name in enumerate(keys):
        space[f"K{i}"] = ('{"state":{' if i == 0 else ",") + encode_basestring(name) + ":"
        parts.append(f"K{i} + (S(d[{name!r}]) if type(d[{name!r}]) is str else W(d[{name!r}]))")
    space["END"] = ("" if keys else '{"state":{') + '},"topic":' + encode_basestring(get_topic(kind)) + "}"
    source = "def write(d):\n    return " + " + ".join([*parts, "END"])
    exec(source, space)  # noqa: S102  # code built only from attribute names, each written as a repr literal
    return space["write"]  # type: ignore[no-any-return]


def event_digest(event: Any) -> str:
    """SHA-256 of an event's topic and state, leaving out its own digest."""
    state = event.__dict__
    names = tuple(state)
    writer = _DIGEST_WRITERS.get((type(event), names))
    if writer is None:
        if not all(type(n) is str for n in names):  # not an attribute dict the writer can frame
            return hashlib.sha256(digest_text(event).encode("utf-8")).hexdigest()
        writer = _DIGEST_WRITERS[(type(event), names)] = _digest_text_writer(type(event), names)
    return hashlib.sha256(writer(state).encode("utf-8")).hexdigest()


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

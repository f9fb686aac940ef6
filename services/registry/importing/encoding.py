"""Encode many domain events for storage exactly as the application's mapper does, a little faster."""

from __future__ import annotations

import enum
import json.encoder
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from antt.actor import Actor

# Attributes the stored state leaves out (they are columns) or adds (class_version): see `Mapper.to_stored_event`.
_COLUMNS = ("originator_id", "originator_version")
_MEMO_MAX = 4096  # remembered texts per encoder: few distinct actors, dates and enum members per import


class StoredEventEncoder:
    """`mapper.to_stored_event` for bulk loads: the same bytes, with one C JSON encoder made once.

    `JSONTranscoder.encode` goes through `json.JSONEncoder.encode`, which builds a new C encoder
    (and a closure) for every event; here one is built with the transcoder's own settings and its
    `default` hook (its transcodings), and reused. The state dict is framed by a writer made per
    event class and attribute names (its keys written once), each value still written by that C
    encoder; the text of a date, an enum member or an actor is remembered. Other transcoders,
    compression and encryption are left to the mapper.
    """

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        transcoder = mapper.transcoder
        make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
        self._encode: Any = None
        settings: Any = None
        if type(transcoder) is JSONTranscoder and mapper.compressor is None and mapper.cipher is None:
            settings = transcoder.encoder  # the transcoder's JSONEncoder: separators, ensure_ascii, default
        if settings is not None and make is not None and settings.indent is None:  # as JSONEncoder.iterencode
            self._string = (json.encoder.encode_basestring_ascii if settings.ensure_ascii  # type: ignore[attr-defined]
                            else json.encoder.encode_basestring)  # type: ignore[attr-defined]
            self._encode = make(None, settings.default, self._string, settings.indent, settings.key_separator,
                                settings.item_separator, settings.sort_keys, settings.skipkeys, settings.allow_nan)
            self._key, self._item = settings.key_separator, settings.item_separator
            self._plain = not settings.sort_keys and not settings.skipkeys  # keys as they come, none left out
            # What the `default` hook (JSONTranscoder._encode_obj) returns for a value of a registered
            # type, {"_type_": name, "_data_": encoded}, framed once per type; types the C encoder
            # writes itself (str, int, float, list, tuple, dict and their subclasses) never reach it.
            self._direct = {kind: ("{" + self._string("_type_") + self._key + self._string(t.name) + self._item
                                   + self._string("_data_") + self._key, t)
                            for kind, t in transcoder.types.items()  # type: ignore[attr-defined]
                            if not issubclass(kind, (str, int, float, list, tuple, dict))}
        # A datetime under eventsourcing's own DatetimeAsISO: its frame and isoformat() written inline.
        self._datetime_head: str | None = None
        if self._encode is not None and type(transcoder.types.get(datetime)) is DatetimeAsISO:  # type: ignore[attr-defined]
            self._datetime_head = self._direct[datetime][0]
        self._topics: dict[type, str] = {}
        self._writers: dict[tuple[type, tuple[str, ...]], Callable[[dict[str, Any]], str] | None] = {}
        self._memo: dict[tuple[type, Any], str] = {}
        self.memo_max = _MEMO_MAX

    def __call__(self, event: Any) -> StoredEvent:
        """The stored form of a domain event (what `mapper.to_stored_event(event)` returns)."""
        if self._encode is None:
            return self._mapper.to_stored_event(event)
        kind = type(event)
        topic = self._topics.get(kind)
        if topic is None:
            topic = self._topics[kind] = get_topic(kind)
        attributes = vars(event)
        names = tuple(attributes)
        writer = self._writers.get((kind, names), False)
        if writer is False:
            writer = self._writers[(kind, names)] = self._state_writer(kind, names)
        text = writer(attributes) if writer is not None else self.reference_state(event)
        return StoredEvent(originator_id=attributes["originator_id"],
                           originator_version=attributes["originator_version"], topic=topic,
                           state=text.encode("utf8"))

    def reference_state(self, event: Any) -> str:
        """The stored state's text as the mapper builds it: a copy of the attributes, encoded whole."""
        state = dict(vars(event))
        state.pop("originator_id")
        state.pop("originator_version")
        class_version = getattr(type(event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return "".join(self._encode(state, 0))

    def _state_writer(self, kind: type, names: tuple[str, ...]) -> Callable[[dict[str, Any]], str] | None:
        """The state text of events of this class with these attributes, keys framed once; None: use the reference."""
        if (not self._plain or "class_version" in names or not all(n in names for n in _COLUMNS)
                or not all(type(n) is str for n in names)):
            return None
        keys = [n for n in names if n not in _COLUMNS]
        space: dict[str, Any] = {"S": self._string, "V": self._value, "T": type}
        reads, parts = [], []
        for i, name in enumerate(keys):
            space[f"K{i}"] = ("{" if i == 0 else self._item) + self._string(name) + self._key
            reads.append(f"    f{i} = d[{name!r}]\n")  # each value read once, joined once (not a chain of +)
            parts.append(f"K{i}, (S(f{i}) if T(f{i}) is str else V(f{i}))")
        class_version = getattr(kind, "class_version", 1)
        end = "{" if not keys else ""
        if class_version > 1:  # the mapper adds it last
            end = (end or self._item) + self._string("class_version") + self._key + "".join(self._encode(class_version, 0))
        space["END"] = end + "}"
        source = "def write(d):\n" + "".join(reads) + "    return ''.join((" + ", ".join([*parts, "END"]) + "))"
        exec(source, space)  # noqa: S102  # names as repr literals
        return space["write"]  # type: ignore[no-any-return]

    def _value(self, value: Any) -> str:
        """A value's text as the C encoder writes it inside the state (remembered for dates, enums and actors)."""
        kind = type(value)
        if kind is int:
            return int.__repr__(value)
        if kind is datetime and self._datetime_head is not None:
            return self._datetime_head + self._string(value.isoformat()) + "}"
        # Their text depends only on their equality (not a datetime's: equal instants in two zones
        # are written differently), so one text serves every equal value of an import.
        if kind is date or kind is Actor or isinstance(value, enum.Enum):
            key = (kind, value)
            text = self._memo.get(key)
            if text is None:
                if len(self._memo) >= self.memo_max:
                    self._memo.clear()
                text = self._memo[key] = self._transcoded(value)
            return text
        return self._transcoded(value)

    def _transcoded(self, value: Any) -> str:
        """A value's text as the C encoder writes it: through its transcoding, framed here, when it has one."""
        direct = self._direct.get(type(value))
        if direct is None:
            return "".join(self._encode(value, 0))
        head, transcoding = direct
        data = transcoding.encode(value)
        return head + (self._string(data) if type(data) is str else "".join(self._encode(data, 0))) + "}"

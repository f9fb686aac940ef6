"""Encode many domain events for storage exactly as the application's mapper does, a little faster."""

from __future__ import annotations

import json.encoder
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic


class StoredEventEncoder:
    """`mapper.to_stored_event` for bulk loads: the same bytes, with one C JSON encoder made once.

    `JSONTranscoder.encode` goes through `json.JSONEncoder.encode`, which builds a new C encoder
    (and a closure) for every event; here one is built with the transcoder's own settings and its
    `default` hook (its transcodings), and reused. Other transcoders, compression and encryption are
    left to the mapper.
    """

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        transcoder = mapper.transcoder
        make = json.encoder.c_make_encoder
        self._encode: Any = None
        settings: Any = None
        if type(transcoder) is JSONTranscoder and mapper.compressor is None and mapper.cipher is None:
            settings = transcoder.encoder  # the transcoder's JSONEncoder: separators, ensure_ascii, default
        if settings is not None and make is not None and settings.indent is None:  # as JSONEncoder.iterencode
            self._encode = make(None, settings.default,
                                json.encoder.encode_basestring_ascii if settings.ensure_ascii
                                else json.encoder.encode_basestring,
                                settings.indent, settings.key_separator, settings.item_separator,
                                settings.sort_keys, settings.skipkeys, settings.allow_nan)
        self._topics: dict[type, str] = {}

    def __call__(self, event: Any) -> StoredEvent:
        """The stored form of a domain event (what `mapper.to_stored_event(event)` returns)."""
        if self._encode is None:
            return self._mapper.to_stored_event(event)
        kind = type(event)
        topic = self._topics.get(kind)
        if topic is None:
            topic = self._topics[kind] = get_topic(kind)
        state = dict(vars(event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(kind, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return StoredEvent(originator_id=originator_id, originator_version=originator_version, topic=topic,
                           state="".join(self._encode(state, 0)).encode("utf8"))

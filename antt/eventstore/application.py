"""Base class of every service's eventsourcing Application: persistence from a URL, metrics, verify."""

from __future__ import annotations

import enum
import json.encoder
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import JSONTranscoder, StoredEvent, Transcoder, Transcoding
from eventsourcing.sqlite import SQLiteDatastore

from antt import metrics
from antt.actor import Actor
from antt.eventstore.hashchain import ChainBreak, verify
from antt.eventstore.persistence import eventsourcing_env

PAGE = 1000
IDS_PER_QUERY = 500  # ids per "which exist" query: well under SQLite's 32,766 bound parameters


class ActorAsDict(Transcoding):
    """Stores an Actor as a plain dict."""

    type = Actor
    name = "antt_actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return obj.to_dict()

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor.from_dict(data)


class DateAsISO(Transcoding):
    """Stores a date as YYYY-MM-DD."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def enum_transcoding(enum_type: type[enum.Enum]) -> Transcoding:
    """A transcoding that stores members of `enum_type` by value."""

    class EnumAsValue(Transcoding):
        type = enum_type
        name = f"enum_{enum_type.__module__}.{enum_type.__qualname__}"

        def encode(self, obj: enum.Enum) -> Any:
            return obj.value

        def decode(self, data: Any) -> enum.Enum:
            return enum_type(data)

    return EnumAsValue()


def reuse_json_encoder(transcoder: Transcoder) -> None:
    """Make a JSONTranscoder encode with one C JSON encoder built once, not one per event: the same bytes.

    `JSONTranscoder.encode` goes through `json.JSONEncoder.encode`, whose one-shot path builds a C
    encoder (and a closure over the transcodings) for every call; this one is built once with the
    same settings and `default` hook, so the output is what `iterencode(_one_shot=True)` writes. The
    only difference is the circular-reference check (a cycle is a RecursionError, not a ValueError):
    a shared marker table would be left dirty by a failed encode. The transcoder keeps its class
    (readers test `type(t) is JSONTranscoder` to read stored states as plain JSON) and its decoder.
    """
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    settings = getattr(transcoder, "encoder", None)
    if type(transcoder) is not JSONTranscoder or make is None or settings is None or settings.indent is not None:
        return
    encode = make(None, settings.default,
                  json.encoder.encode_basestring_ascii if settings.ensure_ascii  # type: ignore[attr-defined]
                  else json.encoder.encode_basestring,  # type: ignore[attr-defined]
                  settings.indent, settings.key_separator, settings.item_separator,
                  settings.sort_keys, settings.skipkeys, settings.allow_nan)
    reference = transcoder.encode

    def encode_once_built(obj: Any) -> bytes:
        if type(obj) is not dict:  # event states are dicts; JSONEncoder.encode has its own path for a str
            return reference(obj)
        return "".join(encode(obj, 0)).encode("utf8")
    transcoder.encode = encode_once_built  # type: ignore[method-assign]


def json_ready(value: Any, default: Any) -> Any:
    """`value` with everything the json module would hand to `default` already replaced by what it returns.

    The same checks in the same order as the C encoder (str, int and float subclasses are written as
    such; lists and tuples as arrays; dicts as they are), so encoding the result writes the same bytes
    as encoding `value`: a form worth remembering for a value that is encoded many times.
    """
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_ready(v, default) for v in value]
    if isinstance(value, dict):
        return {k: json_ready(v, default) for k, v in value.items()}
    return json_ready(default(value), default)


class ServiceApplication(Application):
    """An Application persisted in the service's database (in memory when no URL is given)."""

    service_name = ""
    enums: tuple[type[enum.Enum], ...] = ()  # enum types stored in this service's events

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        settings = dict(env or {})
        if database_url:
            settings.update(eventsourcing_env(database_url))
        super().__init__(env=settings)

    def construct_transcoder(self) -> Transcoder:
        """The factory's transcoder, with its transcodings, encoding through one reused JSON encoder."""
        transcoder = super().construct_transcoder()
        reuse_json_encoder(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: Transcoder) -> None:
        """Adds the kernel's value types to the default transcodings."""
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        transcoder.register(DateAsISO())
        for enum_type in self.enums:
            transcoder.register(enum_transcoding(enum_type))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Saves aggregates (or events already collected from them) and counts the events appended."""
        if objs and not kwargs and all(isinstance(o, DomainEvent) for o in objs):
            recordings = self._save_events(list(objs))
        else:
            recordings = super().save(*objs, **kwargs)
        metrics.EVENTS_APPENDED.labels(self.service_name or self.name.lower()).inc(len(recordings))
        return recordings

    def _save_events(self, events: list[Any]) -> Any:
        """`Application.save` for events (what the group commits hand over), the same steps in the same order.

        `ProcessingEvent.collect_events` tells events from aggregates with `isinstance` against a
        runtime-checkable Protocol (tens of microseconds each); a DomainEvent instance is one.
        """
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        processing_event.events.extend(events)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated hook, still called by Application.save
        return recordings

    def record(self, stored_events: Sequence[StoredEvent]) -> Sequence[int] | None:
        """Insert events already encoded with this application's mapper, all in one transaction (bulk loads).

        What `save` does without collecting and encoding them again: a caller that encodes events as
        they are made keeps bytes rather than aggregates until it commits. A repeated (id, version)
        raises IntegrityError and writes nothing.
        """
        ids = self.recorder.insert_events(stored_events)
        metrics.EVENTS_APPENDED.labels(self.service_name or self.name.lower()).inc(len(stored_events))
        return ids

    def existing_ids(self, ids: Iterable[UUID]) -> set[UUID]:
        """Which of these aggregate ids have events stored (one query per few hundred ids)."""
        return set(self.latest_versions(ids))

    def latest_versions(self, ids: Iterable[UUID]) -> dict[UUID, int]:
        """The version of the last stored event of each of these aggregates (absent: nothing stored).

        One query per few hundred ids, where asking each aggregate costs one query apiece.
        """
        wanted = list(dict.fromkeys(ids))
        found: dict[UUID, int] = {}
        recorder: Any = self.recorder
        table = getattr(recorder, "events_table_name", None)
        datastore = getattr(recorder, "datastore", None)
        for i in range(0, len(wanted), IDS_PER_QUERY):
            part = wanted[i:i + IDS_PER_QUERY]
            if table is None or datastore is None:  # the in-memory recorder of tests
                for u in part:
                    last = recorder.select_events(u, desc=True, limit=1)
                    if last:
                        found[u] = last[0].originator_version
            elif isinstance(datastore, SQLiteDatastore):
                marks = ",".join("?" * len(part))
                by_hex = {u.hex: u for u in part}  # the stored text is u.hex: a lookup, not a parse
                with datastore.transaction(commit=False) as cursor:
                    cursor.execute(f"SELECT originator_id, MAX(originator_version) FROM {table} "
                                   f"WHERE originator_id IN ({marks}) GROUP BY originator_id", list(by_hex))
                    found.update((by_hex[row[0]], int(row[1])) for row in cursor.fetchall())
            else:  # PostgreSQL: uuid column, one array parameter
                with datastore.transaction(commit=False) as cursor:
                    cursor.execute(f'SELECT originator_id, MAX(originator_version) AS v FROM "{table}" '
                                   f"WHERE originator_id = ANY(%s) GROUP BY originator_id", [part])
                    found.update((UUID(str(row["originator_id"])), int(row["v"])) for row in cursor.fetchall())
        return found

    def iter_notifications(self, after: int = 0, topics: Sequence[str] = ()) -> Iterator[Any]:
        """Every stored notification after a position (only these topics, when given), in order, page by page."""
        position = after
        while True:
            page = self.recorder.select_notifications(start=position, limit=PAGE, topics=topics,
                                                      inclusive_of_start=False)
            if not page:
                return
            yield from page
            position = page[-1].id

    def verify_chains(self) -> list[ChainBreak]:
        """Recompute the hash chain of every aggregate in this store."""
        return list(verify(self.iter_notifications(), self.mapper.to_domain_event))

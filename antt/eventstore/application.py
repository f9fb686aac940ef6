"""Base class of every service's eventsourcing Application: persistence from a URL, metrics, verify."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Transcoder, Transcoding

from antt import metrics
from antt.actor import Actor
from antt.eventstore.hashchain import ChainBreak, verify
from antt.eventstore.persistence import eventsourcing_env

PAGE = 1000


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


class ServiceApplication(Application):
    """An Application persisted in the service's database (in memory when no URL is given)."""

    service_name = ""
    enums: tuple[type[enum.Enum], ...] = ()  # enum types stored in this service's events

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        settings = dict(env or {})
        if database_url:
            settings.update(eventsourcing_env(database_url))
        super().__init__(env=settings)

    def register_transcodings(self, transcoder: Transcoder) -> None:
        """Adds the kernel's value types to the default transcodings."""
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        transcoder.register(DateAsISO())
        for enum_type in self.enums:
            transcoder.register(enum_transcoding(enum_type))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Saves aggregates and counts the events appended."""
        recordings = super().save(*objs, **kwargs)
        metrics.EVENTS_APPENDED.labels(self.service_name or self.name.lower()).inc(len(recordings))
        return recordings

    def iter_notifications(self, after: int = 0) -> Iterator[Any]:
        """Every stored notification after a position, in order, read page by page."""
        position = after
        while True:
            page = self.recorder.select_notifications(start=position, limit=PAGE, inclusive_of_start=False)
            if not page:
                return
            yield from page
            position = page[-1].id

    def verify_chains(self) -> list[ChainBreak]:
        """Recompute the hash chain of every aggregate in this store."""
        return list(verify(self.iter_notifications(), self.mapper.to_domain_event))

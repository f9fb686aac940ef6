"""A stored event read as its JSON state, without building the domain event (the relay's fast path).

Decoding a notification into its domain event (eventsourcing's transcoder hooks, topic resolution,
object construction) and mapping the object to protobuf cost the relay about half of its CPU per
message. A publisher may instead map the JSON state of the topics it knows: values keep their
stored form, {"_type_": <transcoding>, "_data_": <value>} for the registered transcodings (dates and
datetimes as ISO strings, enums by value, actors as dicts), which is what their published form needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder

from antt.actor import SYSTEM

if TYPE_CHECKING:
    from antt.relay.outbox import Published

ACTOR_TYPE = "antt_actor"  # the name of antt.eventstore.application.ActorAsDict


@dataclass(frozen=True, slots=True)
class StoredState:
    """One stored notification: its originator, version, topic and decoded (untranscoded) JSON state."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: dict[str, Any]
    aggregate_id: str  # str(originator_id), made once: the payload, its meta and the envelope all name it

    @property
    def timestamp(self) -> str:
        """The recorded time as stored: datetime.isoformat(), the same text the decoded event gives."""
        return str(self.state["timestamp"]["_data_"])

    @property
    def actor(self) -> dict[str, str] | None:
        """The recorded actor's fields, or None when the event has none (it reads as the system actor)."""
        actor = self.state.get("actor")
        if isinstance(actor, dict) and actor.get("_type_") == ACTOR_TYPE:
            return actor["_data_"]  # type: ignore[no-any-return]
        return None

    @property
    def actor_id(self) -> str:
        """The actor id the envelope carries (event_actor(event).id)."""
        actor = self.actor
        return actor["id"] if actor is not None else SYSTEM.id

    def value(self, name: str) -> Any:
        """A field's stored value with its transcoding wrapper removed (None when absent or null)."""
        return unwrap(self.state.get(name))


def unwrap(stored: Any) -> Any:
    """A stored value with its transcoding wrapper removed ({"_type_": t, "_data_": v} -> v)."""
    return stored["_data_"] if isinstance(stored, dict) and "_type_" in stored else stored


ToMessageFromState = Callable[[StoredState], "Published | None"]


def readable(mapper: Any) -> bool:
    """Whether stored states can be read as plain JSON: the default transcoder, no cipher, no compressor."""
    return (type(getattr(mapper, "transcoder", None)) is JSONTranscoder and not getattr(mapper, "cipher", None)
            and not getattr(mapper, "compressor", None))


_decode = json.JSONDecoder().raw_decode  # the transcoder's JSON without its object hook (and a str is quicker)


def read_state(stored: bytes) -> dict[str, Any]:
    """A stored event's state as plain JSON (transcoded values keep their {"_type_", "_data_"} form)."""
    return _decode(stored.decode("utf8"))[0]  # type: ignore[no-any-return]


def read(notification: Any) -> StoredState:
    """The StoredState of a notification."""
    return StoredState(notification.originator_id, notification.originator_version, notification.topic,
                       read_state(notification.state), str(notification.originator_id))


def event_meta(stored: StoredState) -> dict[str, Any]:
    """The fields of the EventMeta antt.contracts.meta.event_meta gives for the decoded event.

    As a dict: a protobuf constructor takes it for the `meta` field, building the message in place
    (≈ 40% quicker than building an EventMeta and copying it in).
    """
    actor = stored.actor
    if actor is None:
        fields = {"id": SYSTEM.id, "role": SYSTEM.role, "tier": SYSTEM.tier, "jurisdiction": SYSTEM.jurisdiction}
    else:
        fields = {"id": actor["id"], "role": actor["role"], "tier": actor["tier"],
                  "jurisdiction": actor.get("jurisdiction", "")}
    effective = stored.value("effective_date")
    return {"actor": fields, "recorded_at": stored.timestamp,
            "effective_date": effective if effective is not None else "",
            "aggregate_id": stored.aggregate_id, "aggregate_version": stored.originator_version}

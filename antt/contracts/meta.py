"""EventMeta of a published payload, read from a stored domain event (one place for every service)."""

from __future__ import annotations

from typing import Any

from antt.actor import SYSTEM, Actor
from antt.common.v1 import actor_pb2 as common_pb


def actor_pb(actor: Actor) -> common_pb.Actor:
    """Protobuf form of an Actor."""
    return common_pb.Actor(id=actor.id, role=actor.role, tier=actor.tier, jurisdiction=actor.jurisdiction)


def actor_from_pb(message: common_pb.Actor) -> Actor:
    """Actor from its protobuf form (the system actor when empty)."""
    if not message.id:
        return SYSTEM
    return Actor(message.id, message.role, message.tier, message.jurisdiction)


def event_actor(event: Any) -> Actor:
    """The actor recorded on a domain event (the system actor if it has none)."""
    actor = event.__dict__.get("actor")
    return actor if isinstance(actor, Actor) else SYSTEM


def event_meta(event: Any) -> common_pb.EventMeta:
    """EventMeta for a domain event: actor, recorded time, effective date, aggregate id and version."""
    effective = event.__dict__.get("effective_date")
    return common_pb.EventMeta(
        actor=actor_pb(event_actor(event)),
        recorded_at=event.timestamp.isoformat(),
        effective_date=effective.isoformat() if effective is not None else "",
        aggregate_id=str(event.originator_id),
        aggregate_version=event.originator_version,
    )

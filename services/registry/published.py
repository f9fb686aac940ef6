"""The registry's published language: domain events -> antt.events.v1 payloads."""

from __future__ import annotations

from typing import Any

from antt.contracts.meta import event_meta
from antt.events.v1 import registry_pb2 as events_pb
from antt.relay.outbox import Published
from services.registry.domain.unit import Unit


def to_message(event: Any) -> Published | None:
    """The published form of a stored registry event (None for internal events)."""
    if isinstance(event, Unit.Registered):
        payload = events_pb.UnitRegistered(
            meta=event_meta(event), unit_id=str(event.originator_id), code=event.code, name=event.name,
            unit_type=event.unit_type.value, province_code=event.province_code, commune_code=event.commune_code)
        return Published(payload, event.province_code, event.commune_code)
    return None

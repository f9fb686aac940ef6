"""What notifications consumes (skeleton: registry events)."""

from __future__ import annotations

from antt.messaging.consumer import ConsumerSpec
from services.notifications import projections

FROM_REGISTRY = ConsumerSpec(name="notifications-from-registry", source="registry",
                             projection=projections.on_registry_event, metadata=(projections.metadata,))

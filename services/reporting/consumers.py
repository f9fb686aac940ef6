"""What reporting consumes (skeleton: registry events)."""

from __future__ import annotations

from antt.messaging.consumer import ConsumerSpec
from services.reporting import projections

FROM_REGISTRY = ConsumerSpec(name="reporting-from-registry", source="registry",
                             projection=projections.on_registry_event, metadata=(projections.metadata,))

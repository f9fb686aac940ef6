"""What assessment consumes: registry unit events into its unit replica (area events are skipped)."""

from __future__ import annotations

from antt.messaging.consumer import ConsumerSpec
from services.assessment import projections

FROM_REGISTRY = ConsumerSpec(name="assessment-from-registry", source="registry",
                             projection=projections.on_registry_event, metadata=(projections.metadata,),
                             batch_projection=projections.on_registry_events)

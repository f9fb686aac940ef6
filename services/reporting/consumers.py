"""What reporting consumes: every registry and assessment event, each through its own durable consumer."""

from __future__ import annotations

from antt.messaging.consumer import ConsumerSpec
from services.reporting import projections

FROM_REGISTRY = ConsumerSpec(name="reporting-from-registry", source="registry",
                             projection=projections.on_registry_event, metadata=(projections.metadata,),
                             batch_projection=projections.on_registry_events,
                             catch_up=projections.catch_up.catch_up)
FROM_ASSESSMENT = ConsumerSpec(name="reporting-from-assessment", source="assessment",
                               projection=projections.on_assessment_event, metadata=(projections.metadata,),
                               batch_projection=projections.on_assessment_events)
CONSUMERS = (FROM_REGISTRY, FROM_ASSESSMENT)

"""What notifications consumes: registry events (unit replica) and assessment events (satisfied obligations)."""

from __future__ import annotations

from antt.messaging.consumer import ConsumerSpec
from services.notifications import projections

FROM_REGISTRY = ConsumerSpec(name="notifications-from-registry", source="registry",
                             projection=projections.on_registry_event, metadata=(projections.metadata,),
                             batch_projection=projections.on_registry_events)
FROM_ASSESSMENT = ConsumerSpec(name="notifications-from-assessment", source="assessment",
                               projection=projections.on_assessment_event, metadata=(projections.metadata,),
                               batch_projection=projections.on_assessment_events)
CONSUMERS = [FROM_REGISTRY, FROM_ASSESSMENT]

"""Composition root of assessment: build(settings) -> Service."""

from __future__ import annotations

from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding
from antt.runtime.service import Service, ServiceParts
from antt.settings import ServiceSettings
from services.assessment.api.servicer import AssessmentServicer
from services.assessment.consumers import FROM_REGISTRY


def build(settings: ServiceSettings) -> Service:
    """Assessment: gRPC API and the registry replica consumer."""
    engine = create_engine(settings.database_url)
    binding = ServicerBinding(AssessmentServicer(engine), pb_grpc.add_AssessmentServiceServicer_to_server,
                              "antt.assessment.v1.AssessmentService")
    return Service(settings, ServiceParts(bindings=[binding], consumers=[FROM_REGISTRY]), engine)

"""Composition root of reporting: build(settings) -> Service."""

from __future__ import annotations

from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc
from antt.runtime.service import Service, ServiceParts
from antt.settings import ServiceSettings
from services.reporting import projections
from services.reporting.api.servicer import ReportingServicer
from services.reporting.consumers import CONSUMERS


def build(settings: ServiceSettings) -> Service:
    """Reporting: gRPC queries and the projections fed by registry and assessment events."""
    engine = create_engine(settings.database_url)
    projections.prepare(engine)  # a store from before the lives read model gets it here, before any query
    servicer = ReportingServicer(engine, ",".join(settings.common.nats_servers))
    binding = ServicerBinding(servicer, pb_grpc.add_ReportingServiceServicer_to_server,
                              "antt.reporting.v1.ReportingService")
    return Service(settings, ServiceParts(bindings=[binding], consumers=list(CONSUMERS)),
                   engine)

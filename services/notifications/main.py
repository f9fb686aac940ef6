"""Composition root of notifications: build(settings) -> Service."""

from __future__ import annotations

from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from antt.runtime.service import Service, ServiceParts
from antt.settings import ServiceSettings
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.consumers import FROM_REGISTRY


def build(settings: ServiceSettings) -> Service:
    """Notifications: gRPC API and the registry consumer."""
    engine = create_engine(settings.database_url)
    binding = ServicerBinding(NotificationsServicer(engine), pb_grpc.add_NotificationsServiceServicer_to_server,
                              "antt.notifications.v1.NotificationsService")
    return Service(settings, ServiceParts(bindings=[binding], consumers=[FROM_REGISTRY]), engine)

"""Composition root of the registry: build(settings) -> Service. Nothing runs at import time."""

from __future__ import annotations

from antt.grpcx.server import ServicerBinding
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.service import Service, ServiceParts
from antt.settings import ServiceSettings
from services.registry.published import RegistryPublisher
from services.registry.api.servicer import RegistryServicer
from services.registry.application import Registry


def build(settings: ServiceSettings) -> Service:
    """The registry service: gRPC API, event store and outbox relay."""
    app = Registry(settings.database_url)
    binding = ServicerBinding(RegistryServicer(app), pb_grpc.add_RegistryServiceServicer_to_server,
                              "antt.registry.v1.RegistryService")
    return Service(settings, ServiceParts(bindings=[binding], app=app, to_message=RegistryPublisher(app).to_message))

"""Create a grpc.aio server with the standard health service, reflection and metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from antt.grpcx.interceptors import ServiceInterceptor
from antt.grpcx.validation import server_options
from antt.settings import RequestLimits


@dataclass(frozen=True)
class ServicerBinding:
    """A servicer, the generated add_*_to_server function and the full service name."""

    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    full_name: str  # e.g. "antt.registry.v1.RegistryService"


class ServerBindError(OSError):
    """The gRPC port could not be bound."""


async def create_server(service: str, host: str, port: int,
                        bindings: Sequence[ServicerBinding], auth: Any = None,
                        limits: RequestLimits | None = None,
                        ) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Build and start the server; returns it, the bound port and its health servicer.

    `auth` is an antt.auth.config.AuthConfig (default: read from ANTT_AUTH_* in the environment);
    `limits` bound message sizes and request fields (default: ANTT_GRPC_MAX_MESSAGE_BYTES, ANTT_MAX_*).
    One interceptor (ServiceInterceptor) does, in this order: metrics, then authentication (an unauthenticated
    caller learns nothing about its request's content), then request validation right before the servicer.
    """
    from antt.auth.config import AuthConfig
    from antt.grpcx.auth import OPEN_PREFIXES, AuthInterceptor

    auth_config = auth if auth is not None else AuthConfig.from_env()
    request_limits = limits if limits is not None else RequestLimits.from_env()
    authenticator = AuthInterceptor(service, auth_config.keyring(), auth_config.required)
    server = grpc.aio.server(interceptors=[ServiceInterceptor(service, authenticator, request_limits, OPEN_PREFIXES)],
                             options=server_options(request_limits))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for b in bindings:
        b.add_to_server(b.servicer, server)
    names = [b.full_name for b in bindings] + [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                                               reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise ServerBindError(f"cannot listen on {host}:{port}: {exc}") from exc
    if bound == 0:
        raise ServerBindError(f"cannot listen on {host}:{port}")
    await server.start()
    for name in ["", *(b.full_name for b in bindings)]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound, health_servicer

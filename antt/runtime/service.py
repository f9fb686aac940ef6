"""A running service: gRPC server, outbox relay, projection consumers and the metrics endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import grpc
from nats.aio.client import Client
from prometheus_client import start_http_server
from sqlalchemy.engine import Engine

from antt.auth.config import AuthConfig
from antt.eventstore.application import ServiceApplication
from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding, create_server
from antt.messaging import connection
from antt.messaging.consumer import ConsumerOptions, ConsumerSpec, ProjectionConsumer
from antt.messaging.streams import ensure_streams
from antt.relay.outbox import OutboxRelay, ToMessage
from antt.settings import ServiceSettings

log = logging.getLogger(__name__)
LAG_INTERVAL = 5.0


@dataclass
class ServiceParts:
    """What a service's build() assembles: servicers, its application and what it publishes/consumes."""

    bindings: list[ServicerBinding] = field(default_factory=list)
    app: ServiceApplication | None = None
    to_message: ToMessage | None = None
    consumers: list[ConsumerSpec] = field(default_factory=list)


@dataclass(frozen=True)
class Roles:
    """Which parts of a service this process runs (all by default; tests split them)."""

    grpc: bool = True
    relay: bool = True
    consumers: bool = True
    metrics: bool = True


class Service:
    """One service process: start() brings every part up, stop() takes them down in order."""

    def __init__(self, settings: ServiceSettings, parts: ServiceParts, engine: Engine | None = None) -> None:
        self.settings = settings
        self.parts = parts
        self.engine = engine or create_engine(settings.database_url)
        self.grpc_port: int | None = None
        self.nc: Client | None = None
        self.relay: OutboxRelay | None = None
        self.projection_consumers: list[ProjectionConsumer] = []
        self._server: grpc.aio.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._metrics_server: Any = None
        self._stopping = asyncio.Event()

    @property
    def name(self) -> str:
        """The service name, e.g. "registry"."""
        return self.settings.name

    async def start(self, roles: Roles = Roles()) -> None:
        """Start the parts named by `roles`."""
        common = self.settings.common
        if roles.metrics:
            self._metrics_server, _ = start_http_server(self.settings.metrics_port, addr=common.bind_host)
        self.nc = await connection.connect(common.nats_servers, name=f"antt-{self.name}")
        await ensure_streams(self.nc.jetstream(), common.nats_replicas)
        if roles.relay and self.parts.app is not None and self.parts.to_message is not None:
            self.relay = OutboxRelay(self.name, self.parts.app, self.parts.to_message, self.engine, self.nc,
                                     batch=common.relay_batch, poll_interval=common.relay_poll_interval)
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        if roles.consumers and self.parts.consumers:
            options = ConsumerOptions(max_deliver=common.consumer_max_deliver, ack_wait=common.consumer_ack_wait,
                                      batch=common.consumer_batch, linger=common.consumer_linger)
            for spec in self.parts.consumers:
                consumer = ProjectionConsumer(spec, self.engine, self.nc, options)
                self.projection_consumers.append(consumer)
                self._tasks.append(asyncio.create_task(consumer.run(self._stopping), name=f"{spec.name}-consumer"))
            self._tasks.append(asyncio.create_task(self._watch_lag(), name=f"{self.name}-lag"))
        if roles.grpc:
            self._server, self.grpc_port, _ = await create_server(
                self.name, common.bind_host, self.settings.grpc_port, self.parts.bindings,
                auth=AuthConfig.from_settings(common))
        log.info("%s started (grpc %s, metrics %s)", self.name, self.grpc_port, self.settings.metrics_port)

    async def _watch_lag(self) -> None:
        while True:
            for consumer in self.projection_consumers:
                with contextlib.suppress(Exception):
                    await consumer.update_lag()
            await asyncio.sleep(LAG_INTERVAL)

    async def stop(self) -> None:
        """Stop accepting requests, finish the current publish, close connections."""
        if self._server is not None:
            await self._server.stop(grace=2)
        if self.relay is not None:
            self.relay.stop()
        self._stopping.set()
        for task in self._tasks:
            if task.get_name().endswith("-lag"):
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 10)
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        self.engine.dispose()

"""Composition root of the registry: build(settings) -> Service. Nothing runs at import time."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Collection, Mapping

from eventsourcing.application import AggregateNotFoundError

from antt.actor import SYSTEM
from antt.errors import AlreadyExistsError
from antt.grpcx.server import ServicerBinding
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.service import Roles, Service, ServiceParts
from antt.settings import ServiceSettings, env_value
from services.registry.api.servicer import RegistryServicer
from services.registry.application import Registry
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaLevel
from services.registry.published import RegistryPublisher
from services.registry.reference.tree import NATIONAL_CODE

log = logging.getLogger(__name__)
REFERENCE_VAR = "ANTT_REGISTRY_REFERENCE_TREE"


def reference_plan(settings: ServiceSettings, env: Mapping[str, str] | None = None) -> Collection[str] | None | bool:
    """What to load: False (nothing), None (every commune) or the province codes whose communes to load."""
    value = env_value(os.environ if env is None else env, REFERENCE_VAR).strip().lower()
    if value == "none":
        return False
    if value == "all":
        return None
    return {code.strip() for code in value.split(",") if code.strip()}


def ensure_reference_tree(app: Registry, provinces: Collection[str] | None) -> int:
    """Load the official tree unless the store has it already (idempotent); returns how many areas were added."""
    try:
        app.repository.get(AdminArea.create_id(AreaLevel.NATIONAL, NATIONAL_CODE))
        return 0
    except AggregateNotFoundError:
        pass
    try:
        return app.load_reference_tree(SYSTEM, provinces)
    except AlreadyExistsError:  # another process loaded it first
        return 0


class RegistryService(Service):
    """The registry process: after the gRPC server is up, loads the reference tree in the background."""

    def __init__(self, settings: ServiceSettings, parts: ServiceParts,
                 reference: Collection[str] | None | bool = False) -> None:
        super().__init__(settings, parts)
        self.reference = reference
        self.reference_loaded = asyncio.Event()

    async def start(self, roles: Roles = Roles()) -> None:
        """Start the parts; a process serving gRPC also makes sure the reference tree is loaded."""
        await super().start(roles)
        if roles.grpc and self.reference is not False:
            self._tasks.append(asyncio.create_task(self._load_reference(), name="registry-reference"))
        else:
            self.reference_loaded.set()

    async def _load_reference(self) -> None:
        assert isinstance(self.parts.app, Registry)
        started = time.monotonic()
        try:
            count = await asyncio.to_thread(ensure_reference_tree, self.parts.app, self.reference or None)
            log.info("reference tree: %d areas loaded in %.1fs", count, time.monotonic() - started)
        except Exception:
            log.exception("reference tree could not be loaded / không nạp được danh mục đơn vị hành chính")
        finally:
            self.reference_loaded.set()


def build(settings: ServiceSettings) -> Service:
    """The registry service: gRPC API, event store and outbox relay."""
    app = Registry(settings.database_url)
    binding = ServicerBinding(RegistryServicer(app), pb_grpc.add_RegistryServiceServicer_to_server,
                              "antt.registry.v1.RegistryService")
    parts = ServiceParts(bindings=[binding], app=app, to_message=RegistryPublisher(app).to_message)
    return RegistryService(settings, parts, reference_plan(settings))

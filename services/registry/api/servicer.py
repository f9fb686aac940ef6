"""RegistryService over gRPC: validate -> convert -> application call -> reply."""

from __future__ import annotations

import asyncio

import grpc

from antt.contracts.meta import actor_from_pb
from antt.grpcx.errors import map_domain_errors
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from services.registry.api.converters import parse_date, parse_uuid, unit_to_pb
from services.registry.application import Registry


class RegistryServicer(pb_grpc.RegistryServiceServicer):
    """Thin adapter from gRPC to the Registry application."""

    def __init__(self, app: Registry) -> None:
        self.app = app

    @map_domain_errors
    async def RegisterUnit(self, request: pb.RegisterUnitRequest, context: grpc.aio.ServicerContext
                           ) -> pb.RegisterUnitResponse:
        effective = parse_date(request.effective_date, "effective_date")
        unit = await asyncio.to_thread(
            self.app.register_unit, request.code, request.name, request.unit_type, request.province_code,
            request.commune_code, actor_from_pb(request.actor), effective)
        return pb.RegisterUnitResponse(unit_id=str(unit.id), version=unit.version)

    @map_domain_errors
    async def GetUnit(self, request: pb.GetUnitRequest, context: grpc.aio.ServicerContext) -> pb.Unit:
        unit = await asyncio.to_thread(self.app.get_unit, parse_uuid(request.unit_id, "unit_id"))
        return unit_to_pb(unit)

"""Area endpoints of RegistryService: create and reorganise areas, the tree on a date, the crosswalk."""

from __future__ import annotations

import asyncio
from datetime import date

import grpc

from antt.auth.authz import requires
from antt.grpcx.auth import request_actor
from antt.grpcx.errors import map_domain_errors
from antt.registry.v1 import registry_service_pb2 as pb
from services.registry.api.jurisdiction import AREA_READ, AREA_WRITE
from antt.grpcx.paging import decode_page_token, encode_page_token, page_size
from antt.grpcx.converters import parse_date
from services.registry.api.converters import area_to_pb, node_to_pb, required_date
from services.registry.application import Registry
from services.registry.area_commands import parse_level
from services.registry.domain.area_history import AreaKey
from services.registry.domain.errors import area_not_in_force


class AreaEndpoints:
    """gRPC methods over administrative areas (mixed into RegistryServicer)."""

    app: Registry

    @requires(AREA_WRITE)
    @map_domain_errors
    async def CreateArea(self, request: pb.CreateAreaRequest, context: grpc.aio.ServicerContext) -> pb.Area:
        effective = parse_date(request.effective_date, "effective_date")
        area = await asyncio.to_thread(
            self.app.create_area, request.level, request.code, request.name, request.kind, request.parent_code,
            effective, request.legal_basis, request_actor(request), request.parent_level or None)
        return area_to_pb(area)

    @requires(AREA_WRITE)
    @map_domain_errors
    async def RenameArea(self, request: pb.RenameAreaRequest, context: grpc.aio.ServicerContext) -> pb.Area:
        effective = required_date(request.effective_date, "effective_date")
        area = await asyncio.to_thread(
            self.app.rename_area, request.level, request.code, request.name, effective, request.legal_basis,
            request_actor(request), request.kind or None)
        return area_to_pb(area)

    @requires(AREA_WRITE)
    @map_domain_errors
    async def MergeAreas(self, request: pb.MergeAreasRequest, context: grpc.aio.ServicerContext) -> pb.Area:
        effective = required_date(request.effective_date, "effective_date")
        area = await asyncio.to_thread(
            lambda: self.app.merge_areas(
                request.level, list(request.source_codes), request.target_code, effective, request.legal_basis,
                request_actor(request), new_name=request.new_name, new_kind=request.new_kind,
                parent_code=request.parent_code, parent_level=request.parent_level or None))
        return area_to_pb(area)

    @requires(AREA_WRITE)
    @map_domain_errors
    async def SplitArea(self, request: pb.SplitAreaRequest, context: grpc.aio.ServicerContext
                        ) -> pb.SplitAreaResponse:
        effective = required_date(request.effective_date, "effective_date")
        targets = [(t.code, t.name, t.kind) for t in request.targets]
        parts = await asyncio.to_thread(
            lambda: self.app.split_area(
                request.level, request.source_code, targets, effective, request.legal_basis,
                request_actor(request), continues=request.continues,
                parent_code=request.parent_code,
                parent_level=request.parent_level or None))
        return pb.SplitAreaResponse(areas=[area_to_pb(a) for a in parts])

    @requires(AREA_WRITE)
    @map_domain_errors
    async def ReparentArea(self, request: pb.ReparentAreaRequest, context: grpc.aio.ServicerContext) -> pb.Area:
        effective = required_date(request.effective_date, "effective_date")
        area = await asyncio.to_thread(
            self.app.reparent_area, request.level, request.code, request.parent_code, effective, request.legal_basis,
            request_actor(request), request.parent_level or None)
        return area_to_pb(area)

    @requires(AREA_WRITE)
    @map_domain_errors
    async def AbolishArea(self, request: pb.AbolishAreaRequest, context: grpc.aio.ServicerContext) -> pb.Area:
        effective = required_date(request.effective_date, "effective_date")
        area = await asyncio.to_thread(self.app.abolish_area, request.level, request.code, effective,
                                       request.legal_basis, request_actor(request))
        return area_to_pb(area)

    @requires(AREA_READ)
    @map_domain_errors
    async def GetArea(self, request: pb.GetAreaRequest, context: grpc.aio.ServicerContext) -> pb.Area:
        on = parse_date(request.as_of, "as_of")
        area = await asyncio.to_thread(self.app.get_area, request.level, request.code)
        if on is not None and area.history().state_on(on) is None:
            raise area_not_in_force(area.code, on, field="as_of")
        return area_to_pb(area, on)

    @requires(AREA_READ)
    @map_domain_errors
    async def ListAreas(self, request: pb.ListAreasRequest, context: grpc.aio.ServicerContext
                        ) -> pb.ListAreasResponse:
        on = parse_date(request.as_of, "as_of") or date.today()
        level = parse_level(request.level) if request.level else None
        size = page_size(request.page_size, 1000, 5000)
        after = decode_page_token(request.page_token)

        def run() -> pb.ListAreasResponse:
            histories = self.app.area_histories()
            nodes = self.app.tree_as_of(on, level)
            if request.parent_code:
                nodes = [n for n in nodes if n.parent is not None and n.parent.code == request.parent_code]
            if after:
                nodes = [n for n in nodes if _position(n.key) > after]
            page = nodes[:size]
            reply = pb.ListAreasResponse(areas=[node_to_pb(n, histories.get(n.key), on) for n in page])
            if len(nodes) > size:
                reply.next_page_token = encode_page_token(_position(page[-1].key))
            return reply
        return await asyncio.to_thread(run)

    @requires(AREA_READ)
    @map_domain_errors
    async def ResolveAreaCode(self, request: pb.ResolveAreaCodeRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ResolveAreaCodeResponse:
        on = parse_date(request.as_of, "as_of") or date.today()

        def run() -> pb.ResolveAreaCodeResponse:
            resolution = self.app.resolve_old_code(request.level, request.code, on)
            histories = self.app.area_histories()
            level = parse_level(request.level)
            areas = [area_to_pb(histories[AreaKey(level, code)], on) for code in resolution.codes]
            return pb.ResolveAreaCodeResponse(level=level.value, code=request.code, as_of=on.isoformat(),
                                              areas=areas, exact=resolution.exact)
        return await asyncio.to_thread(run)


def _position(key: AreaKey) -> str:
    """A string that sorts like AreaKey.sort_key (tier index, then code)."""
    tier, code = key.sort_key()
    return f"{tier}:{code}"

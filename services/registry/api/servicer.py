"""RegistryService over gRPC: validate -> convert -> application call -> reply."""

from __future__ import annotations

import asyncio
from datetime import date
from uuid import UUID

import grpc

from antt.auth.authz import requires
from antt.errors import InvalidArgumentError
from antt.grpcx.auth import request_actor
from antt.grpcx.errors import map_domain_errors
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from services.registry.api.areas import AreaEndpoints
from antt.grpcx.paging import decode_page_token, encode_page_token, page_size
from antt.grpcx.converters import parse_date, parse_uuid
from services.registry.api.converters import (STATUS_CLOSED, STATUS_OPEN, facts_from_pb, history_entry_to_pb,
                                              place_to_pb, required_date, unit_to_pb)
from services.registry.api.import_endpoint import ImportEndpoint
from services.registry.api.jurisdiction import (FACTS, LIST_UNITS, MOVE, REGISTER, UNIT_HISTORY, UNIT_READ,
                                                UNIT_SELF_WRITE, UNIT_WRITE, UnitDirectory)
from services.registry.application import Registry

STATUS_FILTERS = {"": "open", STATUS_OPEN: "open", STATUS_CLOSED: "closed", "tat_ca": "all", "all": "all",
                  "open": "open", "closed": "closed"}
ELIGIBILITY_FILTERS = {"": None, "thuoc_pham_vi": True, "eligible": True, "ngoai_pham_vi": False,
                       "out_of_scope": False}


def _choice(value: str, choices: dict[str, object], field: str, label_vi: str) -> object:
    if value not in choices:
        valid = ", ".join(k for k in choices if k)
        raise InvalidArgumentError(f"{label_vi} không hợp lệ: {value!r} (hợp lệ: {valid})",
                                   f"invalid {field} {value!r} (valid: {valid})", field=field)
    return choices[value]


class RegistryServicer(AreaEndpoints, ImportEndpoint, pb_grpc.RegistryServiceServicer):
    """Thin adapter from gRPC to the Registry application."""

    authz_service = "registry"

    def __init__(self, app: Registry) -> None:
        self.app = app
        self.authz_resolver = UnitDirectory(app)

    async def _unit_reply(self, unit_id: UUID, on: date | None = None) -> pb.Unit:
        def build() -> pb.Unit:
            unit = self.app.get_unit(unit_id)
            return unit_to_pb(unit, on, self.app.catalog.histories())
        return await asyncio.to_thread(build)

    @requires(REGISTER)
    @map_domain_errors
    async def RegisterUnit(self, request: pb.RegisterUnitRequest, context: grpc.aio.ServicerContext
                           ) -> pb.RegisterUnitResponse:
        effective = parse_date(request.effective_date, "effective_date")
        facts = facts_from_pb(request.facts) if request.HasField("facts") else None
        unit = await asyncio.to_thread(
            self.app.register_unit, request.code, request.name, request.unit_type, request.province_code,
            request.commune_code, request_actor(request), effective, facts=facts,
            household_count=request.household_count if request.HasField("household_count") else None,
            tax_code=request.tax_code if request.HasField("tax_code") else None)
        return pb.RegisterUnitResponse(unit_id=str(unit.id), version=unit.version)

    @requires(UNIT_READ)
    @map_domain_errors
    async def GetUnit(self, request: pb.GetUnitRequest, context: grpc.aio.ServicerContext) -> pb.Unit:
        unit_id = parse_uuid(request.unit_id, "unit_id")
        return await self._unit_reply(unit_id, parse_date(request.as_of, "as_of"))

    @requires(UNIT_SELF_WRITE)
    @map_domain_errors
    async def UpdateUnit(self, request: pb.UpdateUnitRequest, context: grpc.aio.ServicerContext) -> pb.Unit:
        unit_id = parse_uuid(request.unit_id, "unit_id")
        changes = {f: getattr(request, f) for f in ("name", "managing_authority", "contact_email", "contact_webhook",
                                               "household_count", "tax_code")
                   if request.HasField(f)}
        if not changes:
            raise InvalidArgumentError("Không có thay đổi nào", "nothing to change", field="name")
        await asyncio.to_thread(self.app.update_unit, unit_id, request_actor(request), **changes)
        return await self._unit_reply(unit_id)

    @requires(FACTS)
    @map_domain_errors
    async def DeclareEligibilityFacts(self, request: pb.DeclareEligibilityFactsRequest,
                                      context: grpc.aio.ServicerContext) -> pb.Unit:
        unit_id = parse_uuid(request.unit_id, "unit_id")
        effective = parse_date(request.effective_date, "effective_date") or date.today()
        await asyncio.to_thread(self.app.declare_eligibility_facts, unit_id, facts_from_pb(request.facts),
                                effective, request_actor(request))
        return await self._unit_reply(unit_id, max(effective, date.today()))

    @requires(MOVE)
    @map_domain_errors
    async def MoveUnit(self, request: pb.MoveUnitRequest, context: grpc.aio.ServicerContext) -> pb.Unit:
        unit_id = parse_uuid(request.unit_id, "unit_id")
        effective = required_date(request.effective_date, "effective_date")
        await asyncio.to_thread(self.app.move_unit, unit_id, request.province_code, request.commune_code, effective,
                                request_actor(request))
        return await self._unit_reply(unit_id, max(effective, date.today()))

    @requires(UNIT_WRITE)
    @map_domain_errors
    async def CloseUnit(self, request: pb.CloseUnitRequest, context: grpc.aio.ServicerContext) -> pb.Unit:
        unit_id = parse_uuid(request.unit_id, "unit_id")
        effective = required_date(request.effective_date, "effective_date")
        await asyncio.to_thread(self.app.close_unit, unit_id, request.reason, effective,
                                request_actor(request),
                                request.successor_code)
        return await self._unit_reply(unit_id, max(effective, date.today()))

    @requires(LIST_UNITS)
    @map_domain_errors
    async def ListUnits(self, request: pb.ListUnitsRequest, context: grpc.aio.ServicerContext
                        ) -> pb.ListUnitsResponse:
        on = parse_date(request.as_of, "as_of") or date.today()
        status = _choice(request.status, STATUS_FILTERS, "status", "Trạng thái")
        eligible = _choice(request.eligibility, ELIGIBILITY_FILTERS, "eligibility", "Phạm vi áp dụng")
        size = page_size(request.page_size, 100, 1000)
        after = decode_page_token(request.page_token)

        def run() -> pb.ListUnitsResponse:
            views = self.app.list_units(on, province_code=request.province_code, commune_code=request.commune_code,
                                        unit_type=request.unit_type or None, eligible=eligible,  # type: ignore[arg-type]
                                        after_code=after, limit=size + 1, status=str(status))
            page = views[:size]
            reply = pb.ListUnitsResponse(units=[unit_to_pb(v.unit, on, place=v.place) for v in page])
            if len(views) > size:
                reply.next_page_token = encode_page_token(page[-1].unit.code)
            return reply
        return await asyncio.to_thread(run)

    @requires(UNIT_HISTORY)
    @map_domain_errors
    async def GetUnitHistory(self, request: pb.GetUnitHistoryRequest, context: grpc.aio.ServicerContext
                             ) -> pb.GetUnitHistoryResponse:
        unit_id = parse_uuid(request.unit_id, "unit_id")

        def run() -> pb.GetUnitHistoryResponse:
            entries = self.app.unit_history(unit_id)
            places = self.app.unit_places(unit_id)
            return pb.GetUnitHistoryResponse(unit_id=str(unit_id),
                                             entries=[history_entry_to_pb(e) for e in entries],
                                             places=[place_to_pb(p) for p in places])
        return await asyncio.to_thread(run)

"""AssessmentService over gRPC (skeleton: queries on the unit replica)."""

from __future__ import annotations

import asyncio

import grpc
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.errors import NotFoundError
from antt.grpcx.errors import map_domain_errors
from services.assessment.projections import unit_replica


class AssessmentServicer(pb_grpc.AssessmentServiceServicer):
    """Reads the replica kept by the registry consumer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _get(self, unit_id: str) -> pb.ReplicatedUnit:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(unit_replica).where(unit_replica.c.unit_id == unit_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"Chưa có đơn vị {unit_id} trong bản sao", f"unit {unit_id} is not in the replica",
                                field="unit_id", reason="UNIT_NOT_REPLICATED")
        return pb.ReplicatedUnit(**dict(row))

    def _count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(unit_replica)).scalar() or 0)

    @map_domain_errors
    async def GetReplicatedUnit(self, request: pb.GetReplicatedUnitRequest, context: grpc.aio.ServicerContext
                                ) -> pb.ReplicatedUnit:
        return await asyncio.to_thread(self._get, request.unit_id)

    @map_domain_errors
    async def CountReplicatedUnits(self, request: pb.CountReplicatedUnitsRequest,
                                   context: grpc.aio.ServicerContext) -> pb.CountReplicatedUnitsResponse:
        return pb.CountReplicatedUnitsResponse(units=await asyncio.to_thread(self._count))

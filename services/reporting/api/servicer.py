"""ReportingService over gRPC (skeleton: unit counts per province)."""

from __future__ import annotations

import asyncio

import grpc
from sqlalchemy.engine import Engine

from antt.grpcx.errors import map_domain_errors
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc
from services.reporting import projections


class ReportingServicer(pb_grpc.ReportingServiceServicer):
    """Queries over reporting's read models."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _counts(self) -> pb.GetUnitCountsResponse:
        with self.engine.connect() as conn:
            counts = projections.unit_counts(conn)
        return pb.GetUnitCountsResponse(
            provinces=[pb.ProvinceUnitCount(province_code=c, units=n) for c, n in counts],
            total=sum(n for _, n in counts))

    @map_domain_errors
    async def GetUnitCounts(self, request: pb.GetUnitCountsRequest, context: grpc.aio.ServicerContext
                            ) -> pb.GetUnitCountsResponse:
        return await asyncio.to_thread(self._counts)

"""ReportingService over gRPC: rollups, ranked sub-areas, exports, replays and the gap check."""

from __future__ import annotations

import asyncio
from datetime import date

import grpc
from sqlalchemy.engine import Engine

from antt.auth.authz import requires
from antt.grpcx.errors import map_domain_errors
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc
from services.reporting import exports, projections, queries
from services.reporting.api import converters, rollups
from services.reporting.api.jurisdiction import READ_NATIONAL, READ_SCOPE, AreaResolver
from services.reporting.rollup.cache import VersionedCache, data_version, report_key
from services.reporting.rollup.report import Report


class ReportingServicer(pb_grpc.ReportingServiceServicer):
    """Queries over reporting's read models; `as_of` and replays read the streams at `nats_url`."""

    def __init__(self, engine: Engine, nats_url: str = "") -> None:
        self.engine = engine
        self.nats_url = nats_url
        self.authz_resolver = AreaResolver(engine)
        self.authz_service = "reporting"
        # live reports by (query, day, what the read models have applied): see rollup/cache.py
        self.reports: VersionedCache[rollups.PreparedRollup] = VersionedCache()

    def _counts(self) -> pb.GetUnitCountsResponse:
        with self.engine.connect() as conn:
            counts = projections.unit_counts(conn)
        return pb.GetUnitCountsResponse(
            provinces=[pb.ProvinceUnitCount(province_code=c, units=n) for c, n in counts],
            total=sum(n for _, n in counts))

    def _live(self, q: pb.ReportQuery) -> rollups.PreparedRollup:
        """The live report, computed once per (query, day, data version) whoever asks."""
        today = date.today()
        with self.engine.connect() as conn:
            # read before the report, in its transaction: a kept report is never older than its version
            version = data_version(conn)
            return self.reports.get(report_key(q.year, q.scope, q.boundary, today), version, lambda: rollups.prepare(
                queries.report(conn, q.year, q.scope, q.boundary, today=today)))

    async def _prepared(self, q: pb.ReportQuery) -> rollups.PreparedRollup:
        """The live report's reply parts, or the replay's as recorded by `as_of` when it is given."""
        if q.as_of:
            from services.reporting import replay

            report = (await replay.replay(self.nats_url, q.year, q.scope, q.as_of, q.boundary)).report
            return await asyncio.to_thread(rollups.prepare, report)
        return await asyncio.to_thread(self._live, q)

    async def _report(self, q: pb.ReportQuery) -> Report:
        """The live report, or the replay as recorded by `as_of` when it is given."""
        return (await self._prepared(q)).report

    @requires(READ_NATIONAL)
    @map_domain_errors
    async def GetUnitCounts(self, request: pb.GetUnitCountsRequest, context: grpc.aio.ServicerContext
                            ) -> pb.GetUnitCountsResponse:
        return await asyncio.to_thread(self._counts)

    @requires(READ_SCOPE)
    @map_domain_errors
    async def GetRollup(self, request: pb.GetRollupRequest, context: grpc.aio.ServicerContext
                        ) -> pb.GetRollupResponse:
        q, size, token = request.query, request.award_page_size, request.award_page_token
        if q.as_of:
            prepared = await self._prepared(q)
            return await asyncio.to_thread(rollups.reply, prepared, size, token)
        # one hop to a thread: the report (kept or computed) and its reply (a big award list takes a while)
        return await asyncio.to_thread(lambda: rollups.reply(self._live(q), size, token))

    @requires(READ_SCOPE)
    @map_domain_errors
    async def ListSubAreas(self, request: pb.ListSubAreasRequest, context: grpc.aio.ServicerContext
                           ) -> pb.ListSubAreasResponse:
        report = await self._report(request.query)
        return pb.ListSubAreasResponse(sub_areas=[converters.area_pb(a) for a in report.sub_areas])

    @requires(READ_SCOPE)
    @map_domain_errors
    async def ExportReport(self, request: pb.ExportReportRequest, context: grpc.aio.ServicerContext
                           ) -> pb.ExportReportResponse:
        fmt = request.format or "xlsx"
        prepared = await self._prepared(request.query)
        content = await asyncio.to_thread(exports.render, prepared.report, fmt)
        return pb.ExportReportResponse(content=content, content_type=converters.CONTENT_TYPES[fmt],
                                       filename=converters.filename(prepared.report, fmt), digest=prepared.digest)

    @requires(READ_SCOPE)
    @map_domain_errors
    async def ReplayReport(self, request: pb.ReplayReportRequest, context: grpc.aio.ServicerContext
                           ) -> pb.ReplayReportResponse:
        from services.reporting import replay

        q = request.query
        result = await replay.replay(self.nats_url, q.year, q.scope, q.as_of, q.boundary)
        return pb.ReplayReportResponse(rollup=converters.rollup_pb(result.report), digest=result.digest,
                                       events=result.events)

    @requires(READ_NATIONAL)
    @map_domain_errors
    async def CheckGaps(self, request: pb.CheckGapsRequest, context: grpc.aio.ServicerContext
                        ) -> pb.CheckGapsResponse:
        from services.reporting import gaps

        found = await gaps.check(self.engine, self.nats_url)
        return pb.CheckGapsResponse(ok=found.ok, findings=found.lines(), events_in_stream=found.events_in_stream,
                                    events_applied=found.events_applied)

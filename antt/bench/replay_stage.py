"""Audit replay of one province-year "as of" a time, through reporting's ReplayReport RPC.

Reporting rebuilds the read models from the streams into a scratch store, keeping only the events
recorded up to the given instant; the replayed figures must equal the live rollup of the same scope
(the instant is taken after the full year, when reporting is final).
"""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import datetime, timezone

from antt.bench.results import Measurement, progress
from antt.bench.stages import BenchContext, stage
from antt.bench.year_stage import YEAR, year_sample
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc

TARGET_S = 2.0


def busiest_province(ctx: BenchContext) -> str:
    """The province with the most units taken through the year (the largest province-year)."""
    counts = collections.Counter(u.province_code for u in year_sample(ctx.country.units, ctx.year_units))
    return max(sorted(counts), key=lambda p: counts[p])


@stage("replay", requires=("antt.reporting.v1.ReportingService/ReplayReport",
                           "antt.reporting.v1.ReportingService/GetRollup"),
       title="audit replay of one province-year as of a time")
async def audit_replay(ctx: BenchContext) -> list[Measurement]:
    """ReplayReport for the busiest province of the year, as of now; compared with the live GetRollup."""
    province = busiest_province(ctx)
    await asyncio.sleep(1.1)  # "as of" has whole seconds: let the last recorded events fall before it
    as_of = datetime.now(timezone.utc).isoformat(timespec="seconds")
    query = pb.ReportQuery(year=YEAR, scope=f"province:{province}", as_of=as_of)
    async with ctx.stack.channel("reporting") as channel:
        stub = pb_grpc.ReportingServiceStub(channel)
        live = await stub.GetRollup(pb.GetRollupRequest(query=pb.ReportQuery(year=YEAR, scope=f"province:{province}")),
                                    timeout=120)
        progress(f"replay: province {province}, year {YEAR}, as of {as_of}")
        t0 = time.perf_counter()
        replay = await stub.ReplayReport(pb.ReplayReportRequest(query=query), timeout=1800)
        seconds = time.perf_counter() - t0
    events = sum(replay.events.values())
    checks = {"replayed figures = live rollup": replay.rollup.area.total == live.rollup.area.total,
              "the province-year has decisions": live.rollup.area.total.decided > 0}
    return [Measurement(f"audit replay of one province-year as of a time (ReplayReport, province {province})",
                        value=round(seconds, 2), unit="s", seconds=round(seconds, 2), count=events, checks=checks,
                        details={"events_per_source": dict(replay.events), "as_of": as_of,
                                 "decided": live.rollup.area.total.decided},
                        note=f"{events:,} events replayed from the streams; target < {TARGET_S:.0f} s")]

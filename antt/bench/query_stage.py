"""Rollup query latency through reporting's gRPC API, with a registry of queries to measure.

GetUnitCounts (national: units per province) and GetRollup of the year for the busiest province and
its busiest commune (the whole figures and the first page of the award list) are measured; more are added with `@rollup(...)`: a query names the RPC it
needs, how to call it for the bench's country and how to check a reply against that country.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from antt.bench.results import Measurement, latency_ms, progress, rate
from antt.bench.stages import BenchContext, missing_methods, stage
from antt.bench.year_stage import YEAR, year_sample
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc

CONCURRENT = 8

Call = Callable[[grpc.aio.Channel, BenchContext], Awaitable[Any]]
Check = Callable[[Any, BenchContext], bool]


@dataclass(frozen=True)
class RollupQuery:
    """A rollup to time: its name, the RPCs it needs and how to call and check it."""

    name: str
    requires: Sequence[str]
    call: Call
    check: Check
    max_calls: int = 0  # calls per measurement at most (0: the bench's --query-calls)


ROLLUPS: list[RollupQuery] = []


def rollup(name: str, requires: Sequence[str], check: Check, max_calls: int = 0) -> Callable[[Call], Call]:
    """Register a rollup query: the decorated function calls it, `check` says whether a reply is right."""

    def register(call: Call) -> Call:
        ROLLUPS.append(RollupQuery(name, tuple(requires), call, check, max_calls))
        return call

    return register


def _counts_match(reply: pb.GetUnitCountsResponse, ctx: BenchContext) -> bool:
    got = {p.province_code: int(p.units) for p in reply.provinces}
    return got == ctx.country.per_province() and int(reply.total) == len(ctx.country.units)


@rollup("national units per province (GetUnitCounts)", ("antt.reporting.v1.ReportingService/GetUnitCounts",),
        _counts_match)
async def _unit_counts(channel: grpc.aio.Channel, ctx: BenchContext) -> pb.GetUnitCountsResponse:
    return await pb_grpc.ReportingServiceStub(channel).GetUnitCounts(pb.GetUnitCountsRequest(), timeout=30)


def busiest(ctx: BenchContext) -> tuple[str, str]:
    """(province, commune) with the most units taken through the year (ties: the lowest code)."""
    # worked out once per run: the timed calls ask for it, and counting the country takes longer than a reply
    found: tuple[str, str] | None = ctx.state.get("busiest")
    if found is None:
        sample = year_sample(ctx.country.units, ctx.year_units)
        provinces = collections.Counter(u.province_code for u in sample)
        province = max(sorted(provinces), key=lambda p: provinces[p])
        communes = collections.Counter(u.commune_code for u in sample if u.province_code == province)
        found = ctx.state["busiest"] = (province, max(sorted(communes), key=lambda c: communes[c]))
    return found


def _scope_matches(kind: str) -> Check:
    """A rollup of the year is right when it counts the scope's generated units, in scope, and its decisions
    are none (the full year did not run) or every unit of the scope taken through the year, all recognised."""

    def expected(ctx: BenchContext) -> tuple[str, int, int]:
        """The scope's code, its generated units and those taken through the year (counted once per run)."""
        key = f"busiest {kind} counts"
        if key not in ctx.state:
            province, commune = busiest(ctx)
            code = province if kind == "province" else commune

            def inside(u: Any) -> bool:
                return (u.province_code if kind == "province" else u.commune_code) == code

            ctx.state[key] = (code, sum(1 for u in ctx.country.units if inside(u)),
                              sum(1 for u in year_sample(ctx.country.units, ctx.year_units) if inside(u)))
        found: tuple[str, int, int] = ctx.state[key]
        return found

    def check(reply: pb.GetRollupResponse, ctx: BenchContext) -> bool:
        code, units, year = expected(ctx)
        total = reply.rollup.area.total
        # the first page of the award list: full unless the list is shorter, and no longer than the recognised
        page = len(reply.rollup.award_eligible) == min(AWARD_PAGE, reply.award_eligible_total)
        return (reply.rollup.area.code == code and total.in_scope == units and total.decided in (0, year)
                and total.recognised == total.decided and page and reply.award_eligible_total <= total.recognised
                and bool(reply.next_award_page_token) == (reply.award_eligible_total > AWARD_PAGE))

    return check


def _get_rollup(kind: str) -> Call:
    async def call(channel: grpc.aio.Channel, ctx: BenchContext) -> pb.GetRollupResponse:
        province, commune = busiest(ctx)
        scope = f"province:{province}" if kind == "province" else f"commune:{commune}"
        return await pb_grpc.ReportingServiceStub(channel).GetRollup(
            pb.GetRollupRequest(query=pb.ReportQuery(year=YEAR, scope=scope), award_page_size=AWARD_PAGE), timeout=60)

    return call


# A GetRollup computes the report from the read models (every unit's life) when they changed since the last
# one: heavier than a count, so fewer calls are timed.
ROLLUP_CALLS = 40
# Lines of the award list asked per reply: the first page, as a screen shows it (the figures are whole).
AWARD_PAGE = 100
for _kind in ("province", "commune"):
    rollup(f"{_kind} rollup of the year, busiest {_kind} (GetRollup)",
           ("antt.reporting.v1.ReportingService/GetRollup",), _scope_matches(_kind), ROLLUP_CALLS)(_get_rollup(_kind))


async def _health(channel: grpc.aio.Channel, ctx: BenchContext | None = None) -> Any:
    return await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)


async def timed_calls(open_channel: Callable[[], grpc.aio.Channel], call: Callable[[grpc.aio.Channel], Awaitable[Any]],
                      calls: int, concurrent: int) -> tuple[list[float], list[Any], float]:
    """`calls` calls spread over `concurrent` clients on one channel: latencies, replies, wall seconds."""
    latencies: list[float] = []
    replies: list[Any] = []
    remaining = iter(range(calls))
    async with open_channel() as channel:
        await call(channel)  # warm up the connection

        async def client() -> None:
            for _ in remaining:
                t0 = time.perf_counter()
                replies.append(await call(channel))
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrent)))
        return latencies, replies, time.perf_counter() - start


async def grpc_roundtrip_limit(open_channel: Callable[[], grpc.aio.Channel], calls: int) -> Measurement:
    """Raw limit of a gRPC round trip on the same server: the health check, sequential."""
    latencies, _, seconds = await timed_calls(open_channel, _health, calls, 1)
    return Measurement("gRPC round trip (health Check, 1 client)", value=latency_ms(latencies)["p50"], unit="ms p50",
                       seconds=round(seconds, 2), count=len(latencies), latency_ms=latency_ms(latencies))


@stage("rollups", requires=("antt.reporting.v1.ReportingService/GetUnitCounts",), title="rollup queries")
async def rollup_queries(ctx: BenchContext) -> list[Measurement]:
    """Every registered rollup: p50/p95/p99 with one client and with several concurrent clients."""
    target = functools.partial(ctx.stack.channel, "reporting")
    limits = ctx.state.setdefault("limits", {})
    limits["grpc_roundtrip"] = await grpc_roundtrip_limit(target, ctx.query_calls)
    out: list[Measurement] = []
    for q in ROLLUPS:
        missing = missing_methods(q.requires)
        if missing:
            out.append(Measurement(f"rollup {q.name}", status="not available yet", note=", ".join(missing)))
            continue
        for concurrent in (1, CONCURRENT):
            progress(f"rollups: {q.name}, {concurrent} client(s)")
            call = functools.partial(q.call, ctx=ctx)
            calls = min(ctx.query_calls, q.max_calls) if q.max_calls else ctx.query_calls
            latencies, replies, seconds = await timed_calls(target, call, calls, concurrent)
            wrong = sum(1 for r in replies if not q.check(r, ctx))
            lat = latency_ms(latencies)
            out.append(Measurement(f"rollup {q.name}, {concurrent} client(s)", value=lat["p50"], unit="ms p50",
                                   seconds=round(seconds, 2), count=len(replies), latency_ms=lat,
                                   limit="grpc_roundtrip", errors=wrong,
                                   checks={"every reply matches the generated country": wrong == 0},
                                   details={"queries_per_s": rate(len(replies), seconds)},
                                   note=f"{rate(len(replies), seconds):,.0f} queries/s"))
    return out

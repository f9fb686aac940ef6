"""Rollup query latency through reporting's gRPC API, with a registry of queries to measure.

Today reporting answers GetUnitCounts (national: units per province). Richer rollups (national,
province and commune scopes of the classification) are added with `@rollup(...)`: a query names
the RPC it needs and returns (call, check) for the country.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from antt.bench.results import Measurement, latency_ms, progress, rate
from antt.bench.stages import BenchContext, missing_methods, stage
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc

CONCURRENT = 8

Call = Callable[[grpc.aio.Channel], Awaitable[Any]]
Check = Callable[[Any, BenchContext], bool]


@dataclass(frozen=True)
class RollupQuery:
    """A rollup to time: its name, the RPCs it needs and how to call and check it."""

    name: str
    requires: Sequence[str]
    call: Call
    check: Check


ROLLUPS: list[RollupQuery] = []


def rollup(name: str, requires: Sequence[str], check: Check) -> Callable[[Call], Call]:
    """Register a rollup query: the decorated function calls it, `check` says whether a reply is right."""

    def register(call: Call) -> Call:
        ROLLUPS.append(RollupQuery(name, tuple(requires), call, check))
        return call

    return register


def _counts_match(reply: pb.GetUnitCountsResponse, ctx: BenchContext) -> bool:
    got = {p.province_code: int(p.units) for p in reply.provinces}
    return got == ctx.country.per_province() and int(reply.total) == len(ctx.country.units)


@rollup("national units per province (GetUnitCounts)", ("antt.reporting.v1.ReportingService/GetUnitCounts",),
        _counts_match)
async def _unit_counts(channel: grpc.aio.Channel) -> pb.GetUnitCountsResponse:
    return await pb_grpc.ReportingServiceStub(channel).GetUnitCounts(pb.GetUnitCountsRequest(), timeout=30)


async def _health(channel: grpc.aio.Channel) -> Any:
    return await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)


async def timed_calls(open_channel: Callable[[], grpc.aio.Channel], call: Call, calls: int, concurrent: int
                      ) -> tuple[list[float], list[Any], float]:
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
            latencies, replies, seconds = await timed_calls(target, q.call, ctx.query_calls, concurrent)
            wrong = sum(1 for r in replies if not q.check(r, ctx))
            lat = latency_ms(latencies)
            out.append(Measurement(f"rollup {q.name}, {concurrent} client(s)", value=lat["p50"], unit="ms p50",
                                   seconds=round(seconds, 2), count=len(replies), latency_ms=lat,
                                   limit="grpc_roundtrip", errors=wrong,
                                   checks={"every reply equals the generated counts": wrong == 0},
                                   details={"queries_per_s": rate(len(replies), seconds)},
                                   note=f"{rate(len(replies), seconds):,.0f} queries/s"))
    return out

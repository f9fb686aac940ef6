"""Registry bulk import through RegisterUnit with N concurrent gRPC clients, until every unit is
visible in assessment's replica and in reporting; the end-to-end lag is measured from samples."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable

import grpc

from antt.bench.country import EFFECTIVE_DATE, SyntheticUnit
from antt.bench.results import Measurement, latency_ms, progress, rate
from antt.bench.stages import BenchContext, stage
from antt.common.v1 import actor_pb2
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc

ACTOR = actor_pb2.Actor(id="u:bench", role="national_operator", tier="national", jurisdiction="")
REPLICA = ("assessment", "assessment_unit_replica")
REPORTING = ("reporting", "reporting_units")
POLL = 0.25


class VisibilityLog:
    """(time, count) observations of a read model, turned into per-unit lag after the command's reply."""

    def __init__(self) -> None:
        self.observations: list[tuple[float, int]] = []

    def add(self, at: float, count: int) -> None:
        """Record one observation."""
        self.observations.append((at, count))

    def lags(self, replies: list[float]) -> list[float]:
        """Lag of the k-th visible unit after the k-th reply (replies sorted), to ±one poll interval."""
        out: list[float] = []
        seen = 0
        for at, count in self.observations:
            for k in range(seen, min(count, len(replies))):
                out.append(max(0.0, at - replies[k]))
            seen = max(seen, count)
        return out

    def first_complete(self, total: int) -> float | None:
        """When the read model first held every unit."""
        i = bisect.bisect_left([c for _, c in self.observations], total)
        return self.observations[i][0] if i < len(self.observations) else None


def register_request(u: SyntheticUnit) -> pb.RegisterUnitRequest:
    """RegisterUnit for a generated unit, with its eligibility facts when the contract carries them."""
    request = pb.RegisterUnitRequest(code=u.code, name=u.name, unit_type=u.unit_type, province_code=u.province_code,
                                     commune_code=u.commune_code, effective_date=EFFECTIVE_DATE, actor=ACTOR)
    if (u.size_class or u.school_levels) and "facts" in pb.RegisterUnitRequest.DESCRIPTOR.fields_by_name:
        request.facts.size_class = u.size_class
        if u.size_class:
            request.facts.size_declared_on = EFFECTIVE_DATE
        request.facts.school_levels.extend(u.school_levels)
    return request


async def _register_all(ctx: BenchContext, latencies: list[float], replies: list[float], errors: list[str]) -> None:
    units = iter(ctx.country.units)
    total = len(ctx.country.units)

    async def client(channel: grpc.aio.Channel) -> None:
        stub = pb_grpc.RegistryServiceStub(channel)
        for u in units:  # the iterator is shared: each unit is taken by exactly one client
            request = register_request(u)
            t0 = time.perf_counter()
            try:
                await stub.RegisterUnit(request, timeout=120)
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{u.code}: {exc.code().name} {exc.details()}")
                continue
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            replies.append(t1)
            if len(replies) % max(1, total // 10) == 0:
                progress(f"import: {len(replies):,}/{total:,} registered")

    channels = [grpc.aio.insecure_channel(ctx.stack.grpc_target("registry")) for _ in range(min(4, ctx.clients))]
    try:
        await asyncio.gather(*(client(channels[i % len(channels)]) for i in range(ctx.clients)))
    finally:
        for ch in channels:
            await ch.close()


async def _watch(ctx: BenchContext, logs: dict[str, VisibilityLog], target: Callable[[], int],
                 done: asyncio.Event, timeout: float) -> None:
    last_note = time.perf_counter()
    drain_started: float | None = None
    while True:
        counts = {}
        for key, (service, table) in (("replica", REPLICA), ("reporting", REPORTING)):
            n = await asyncio.to_thread(ctx.stack.count, service, table)
            logs[key].add(time.perf_counter(), n)
            counts[key] = n
        now = time.perf_counter()
        if now - last_note > 5:
            progress(f"import: visible in replica {counts['replica']:,}, reporting {counts['reporting']:,}")
            last_note = now
        if done.is_set() and all(n >= target() for n in counts.values()):
            return
        if done.is_set() and drain_started is None:
            drain_started = now
        if drain_started is not None and now - drain_started > timeout:
            raise TimeoutError(f"units not visible {timeout:.0f}s after the last reply: {counts}")
        await asyncio.sleep(POLL)


@stage("import", requires=("antt.registry.v1.RegistryService/RegisterUnit",),
       title="registry import → assessment replica + reporting")
async def registry_import(ctx: BenchContext) -> list[Measurement]:
    """Register every generated unit; wait until both read models hold all of them."""
    total = len(ctx.country.units)
    latencies: list[float] = []
    replies: list[float] = []
    errors: list[str] = []
    logs = {"replica": VisibilityLog(), "reporting": VisibilityLog()}
    done = asyncio.Event()
    start = time.perf_counter()
    watcher = asyncio.create_task(_watch(ctx, logs, lambda: total - len(errors), done, timeout=max(600.0, total / 20)))
    await _register_all(ctx, latencies, replies, errors)
    api_done = time.perf_counter()
    done.set()
    expected = total - len(errors)
    drain_errors: list[str] = []
    try:
        await watcher
    except TimeoutError as exc:
        drain_errors.append(str(exc))
    replies.sort()
    visible = [logs[k].first_complete(expected) for k in logs]
    end = max((v for v in visible if v is not None), default=time.perf_counter())
    per_province = dict(ctx.stack.rows("reporting", "SELECT province_code, units FROM reporting_province_unit_counts "
                                                    "ORDER BY province_code"))
    replica_types = dict(ctx.stack.rows("assessment", "SELECT unit_type, count(*) FROM assessment_unit_replica "
                                                      "GROUP BY unit_type"))
    checks = {
        "replica units = generated": ctx.stack.count(*REPLICA) == total,
        "reporting units = generated": ctx.stack.count(*REPORTING) == total,
        "reporting per province = generated": per_province == ctx.country.per_province(),
        "replica per type = generated": replica_types == ctx.country.per_type(),
    }
    lag = {k: latency_ms(logs[k].lags(replies)) for k in logs}
    return [
        Measurement("registry import, gRPC RegisterUnit (commands)", value=rate(len(replies), api_done - start),
                    unit="units/s", seconds=round(api_done - start, 2), count=len(replies),
                    latency_ms=latency_ms(latencies), errors=len(errors),
                    details={"clients": ctx.clients, "first_errors": errors[:5]},
                    note=f"{ctx.clients} concurrent grpc.aio clients"),
        Measurement("registry import, visible in replica + reporting (end to end)", value=rate(total, end - start),
                    unit="units/s", seconds=round(end - start, 2), count=total, latency_ms=lag["reporting"],
                    limit="js_publish_seq", errors=len(errors) + len(drain_errors), checks=checks,
                    details={"lag_ms": lag, "drain_after_last_reply_s": round(end - api_done, 2),
                             "drain_errors": drain_errors},
                    note=f"latency = lag reply→visible in reporting (±{POLL * 1000:.0f} ms); "
                         f"drain after last reply {end - api_done:.1f} s"),
    ]

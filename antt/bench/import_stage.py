"""Registry import, until every unit is visible in assessment's replica and in reporting.

Two stages share the generated units: `register` sends a share of them one at a time through
RegisterUnit with N concurrent gRPC clients (single-command latency), `bulk_import` streams the
rest through the ImportUnits RPC (what `antt import units` does). The end-to-end lag is sampled, and
the registry relay's publish rate during the bulk import is read from the stream's timestamps.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import time
from collections.abc import Awaitable, Callable, Iterator

import grpc

from antt.bench.country import EFFECTIVE_DATE, SyntheticUnit
from antt.bench.results import Measurement, latency_ms, progress, rate
from antt.bench.stack import relay_name
from antt.bench.stages import BenchContext, stage
from antt.common.v1 import actor_pb2
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc

ACTOR = actor_pb2.Actor(id="u:bench", role="national_operator", tier="national", jurisdiction="")
REPLICA = ("assessment", "assessment_unit_replica")
REPORTING = ("reporting", "reporting_units")
POLL = 0.25
REGISTRY_STREAM = "ANTT_REGISTRY"
RELAY_PROCESS = relay_name("registry")
SINGLE_SHARE = 0.2  # of the units registered one at a time; the rest arrive through ImportUnits
IMPORT_CHUNK = 1000  # rows per ImportUnits message, as `antt import units` sends them


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


def split(units: list[SyntheticUnit]) -> tuple[list[SyntheticUnit], list[SyntheticUnit]]:
    """(units registered one at a time, units imported in bulk): the first share and the rest."""
    k = max(1, round(len(units) * SINGLE_SHARE)) if len(units) > 1 else len(units)
    return units[:k], units[k:]


def import_row(n: int, u: SyntheticUnit) -> pb.ImportRow:
    """A generated unit as a row of an import file."""
    row = pb.ImportRow(row_number=n, code=u.code, name=u.name, unit_type=u.unit_type, province_code=u.province_code,
                       commune_code=u.commune_code, effective_date=EFFECTIVE_DATE)
    if u.size_class:
        row.size_class, row.size_declared_on = u.size_class, EFFECTIVE_DATE
    if u.school_levels:
        row.school_levels = ";".join(u.school_levels)
    return row


async def _register_all(ctx: BenchContext, todo: list[SyntheticUnit], latencies: list[float], replies: list[float],
                        errors: list[str]) -> None:
    units = iter(todo)
    total = len(todo)

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
                progress(f"register: {len(replies):,}/{total:,} registered")

    channels = [ctx.stack.channel("registry") for _ in range(min(4, ctx.clients))]
    try:
        await asyncio.gather(*(client(channels[i % len(channels)]) for i in range(ctx.clients)))
    finally:
        for ch in channels:
            await ch.close()


async def _watch(ctx: BenchContext, logs: dict[str, VisibilityLog], base: dict[str, int], target: Callable[[], int],
                 done: asyncio.Event, timeout: float) -> None:
    """Sample both read models (counts above `base`) until both hold `target()` units after `done`."""
    last_note = time.perf_counter()
    drain_started: float | None = None
    while True:
        counts = {}
        for key, (service, table) in (("replica", REPLICA), ("reporting", REPORTING)):
            n = await asyncio.to_thread(ctx.stack.count, service, table) - base[key]
            logs[key].add(time.perf_counter(), n)
            counts[key] = n
        if "stream" in logs:  # events the relay has published (the stream's growth), to tell relay from consumers
            logs["stream"].add(time.perf_counter(), await ctx.stack.stream_messages(REGISTRY_STREAM) - base["stream"])
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


def _registered(ctx: BenchContext) -> list[SyntheticUnit]:
    return ctx.state.setdefault("registered", [])


def _checks(ctx: BenchContext) -> dict[str, bool]:
    """Both read models hold exactly the units registered so far, per province and per type."""
    done = _registered(ctx)
    per_province = collections.Counter(u.province_code for u in done)
    per_type = collections.Counter(u.unit_type for u in done)
    reporting = dict(ctx.stack.rows("reporting", "SELECT province_code, units FROM reporting_province_unit_counts "
                                                 "WHERE units > 0 ORDER BY province_code"))
    replica_types = dict(ctx.stack.rows("assessment", "SELECT unit_type, count(*) FROM assessment_unit_replica "
                                                      "GROUP BY unit_type"))
    return {
        "replica units = registered": ctx.stack.count(*REPLICA) == len(done),
        "reporting units = registered": ctx.stack.count(*REPORTING) == len(done),
        "reporting per province = registered": reporting == dict(per_province),
        "replica per type = registered": replica_types == dict(per_type),
    }


async def _visible(ctx: BenchContext, send: Callable[[], Awaitable[int]], total: int
                   ) -> tuple[dict[str, VisibilityLog], float, float, list[str]]:
    """Run `send` (returns how many units it got accepted) while sampling the read models until they
    hold them: (logs, start, end of `send`, drain errors); the logs count from zero."""
    base = {"replica": await asyncio.to_thread(ctx.stack.count, *REPLICA),
            "reporting": await asyncio.to_thread(ctx.stack.count, *REPORTING),
            "stream": await ctx.stack.stream_messages(REGISTRY_STREAM)}
    logs = {"replica": VisibilityLog(), "reporting": VisibilityLog(), "stream": VisibilityLog()}
    done = asyncio.Event()
    accepted = [total]
    start = time.perf_counter()
    watcher = asyncio.create_task(_watch(ctx, logs, base, lambda: accepted[0], done, timeout=max(600.0, total / 20)))
    try:
        accepted[0] = await send()
    finally:
        done.set()
    api_done = time.perf_counter()
    drain_errors: list[str] = []
    try:
        await watcher
    except TimeoutError as exc:
        drain_errors.append(str(exc))
    return logs, start, api_done, drain_errors


def _last_growth(log: VisibilityLog) -> float:
    """When a sampled count first reached its final value."""
    final = log.observations[-1][1] if log.observations else 0
    return next((at for at, n in log.observations if n >= final), time.perf_counter())


def _end(logs: dict[str, VisibilityLog], expected: int) -> float:
    visible = [logs[k].first_complete(expected) for k in ("replica", "reporting")]
    return max((v for v in visible if v is not None), default=time.perf_counter())


@stage("import", requires=("antt.registry.v1.RegistryService/RegisterUnit",),
       title="registry RegisterUnit → assessment replica + reporting")
async def registry_import(ctx: BenchContext) -> list[Measurement]:
    """Register a share of the units one at a time; wait until both read models hold all of them."""
    todo, _ = split(ctx.country.units)
    latencies: list[float] = []
    replies: list[float] = []
    errors: list[str] = []

    async def send() -> int:
        await _register_all(ctx, todo, latencies, replies, errors)
        return len(replies)

    logs, start, api_done, drain_errors = await _visible(ctx, send, len(todo))
    failed = {e.split(":", 1)[0] for e in errors}
    _registered(ctx).extend(u for u in todo if u.code not in failed)
    replies.sort()
    end = _end(logs, len(replies))
    lag = {k: latency_ms(logs[k].lags(replies)) for k in ("replica", "reporting")}
    return [
        Measurement("registry RegisterUnit, one unit per command", value=rate(len(replies), api_done - start),
                    unit="commands/s", seconds=round(api_done - start, 2), count=len(replies),
                    latency_ms=latency_ms(latencies), errors=len(errors),
                    details={"clients": ctx.clients, "first_errors": errors[:5]},
                    note=f"{ctx.clients} concurrent grpc.aio clients; {SINGLE_SHARE:.0%} of the units"),
        Measurement("registry RegisterUnit, visible in replica + reporting (end to end)",
                    value=rate(len(todo), end - start), unit="units/s", seconds=round(end - start, 2),
                    count=len(todo), latency_ms=lag["reporting"], limit="js_publish_async",
                    errors=len(errors) + len(drain_errors), checks=_checks(ctx),
                    details={"lag_ms": lag, "drain_after_last_reply_s": round(end - api_done, 2),
                             "drain_errors": drain_errors},
                    note=f"latency = lag reply→visible in reporting (±{POLL * 1000:.0f} ms); "
                         f"drain after last reply {end - api_done:.1f} s"),
    ]


async def _import_stream(ctx: BenchContext, units: list[SyntheticUnit]) -> pb.ImportUnitsProgress:
    """Stream the units to ImportUnits in chunks; the final progress message."""

    def requests() -> Iterator[pb.ImportUnitsRequest]:
        for first in range(0, len(units), IMPORT_CHUNK):
            chunk = units[first:first + IMPORT_CHUNK]
            request = pb.ImportUnitsRequest(rows=[import_row(first + i + 2, u) for i, u in enumerate(chunk)])
            if first == 0:
                request.source_name, request.total_rows = "bench", len(units)
                request.actor.CopyFrom(ACTOR)
            yield request

    final = pb.ImportUnitsProgress()
    async with ctx.stack.channel("registry") as channel:
        async for message in pb_grpc.RegistryServiceStub(channel).ImportUnits(requests(), timeout=3600):
            if message.done:
                final = message
    return final


@stage("bulk_import", requires=("antt.registry.v1.RegistryService/ImportUnits",),
       title="registry ImportUnits → assessment replica + reporting")
async def bulk_import(ctx: BenchContext) -> list[Measurement]:
    """Import the other units in one ImportUnits stream; wait until both read models hold them."""
    _, todo = split(ctx.country.units)
    result: list[pb.ImportUnitsProgress] = []

    async def send() -> int:
        result.append(await _import_stream(ctx, todo))
        progress(f"bulk import: {result[0].imported:,} committed, {result[0].bad_rows} bad rows")
        return int(result[0].imported)

    first_seq = await ctx.stack.stream_last_seq(REGISTRY_STREAM) + 1
    relay_cpu = ctx.stack.cpu(RELAY_PROCESS)
    logs, start, api_done, drain_errors = await _visible(ctx, send, len(todo))
    commit_wall = time.time() - (time.perf_counter() - api_done)
    span = await ctx.stack.stream_span(REGISTRY_STREAM, first_seq)
    after_cpu = ctx.stack.cpu(RELAY_PROCESS)
    relay_cpu = after_cpu - relay_cpu if relay_cpu is not None and after_cpu is not None else None
    final = result[0] if result else pb.ImportUnitsProgress()
    if final.committed:
        _registered(ctx).extend(todo)
    end = _end(logs, len(todo))
    stream_end = logs["stream"].observations[-1] if logs["stream"].observations else (end, 0)
    published = _last_growth(logs["stream"])
    errors = [f"row {e.row_number} {e.field}: {e.reason}" for e in final.errors[:5]]
    return [
        Measurement("registry ImportUnits (one stream, committed)", value=rate(int(final.imported), api_done - start),
                    unit="units/s", seconds=round(api_done - start, 2), count=int(final.imported),
                    errors=int(final.bad_rows) + (0 if final.committed else 1),
                    checks={"every row committed": final.committed and final.imported == len(todo)},
                    details={"first_errors": errors, "chunk_rows": IMPORT_CHUNK},
                    note=f"{len(todo):,} rows in messages of {IMPORT_CHUNK:,}; until the reply that they are saved"),
        Measurement("registry ImportUnits, visible in replica + reporting (end to end)",
                    value=rate(len(todo), end - start), unit="units/s", seconds=round(end - start, 2),
                    count=len(todo), limit="js_publish_async", errors=len(drain_errors), checks=_checks(ctx),
                    details={"drain_after_commit_s": round(end - api_done, 2), "drain_errors": drain_errors,
                             "events_published": stream_end[1],
                             "relay_done_after_commit_s": round(published - api_done, 2)},
                    note=f"target ≥ 20,000 units/s; drain after the commit {end - api_done:.1f} s, of which the "
                         f"relay published the {stream_end[1]:,} events in {max(0.0, published - api_done):.1f} s"),
        relay_measurement(span, commit_wall, relay_cpu),
    ]


def relay_measurement(span: tuple[int, float, float] | None, commit_wall: float, cpu: float | None) -> Measurement:
    """The registry relay's publish rate during the bulk import, from the stream's own timestamps.

    The import commits in one transaction, so the relay publishes every event after the commit: the rate
    is the events over the time from the first stored to the last stored (the server's clock, whichever
    process the relay runs in). The rate from the commit (wall clock, same machine) adds the relay's
    poll and first read. `cpu`: what the relay's own process used over the import and the drain, its idle
    polls included (None when the relay shares a process).
    """
    name = "registry relay, outbox → stream (bulk import events)"
    if span is None or span[0] < 2:
        return Measurement(name, status="failed", unit="msgs/s", limit="js_publish_async",
                           note="the relay published nothing after the import")
    count, first, last = span
    return Measurement(name, value=rate(count - 1, last - first), unit="msgs/s", seconds=round(last - first, 2),
                       count=count, limit="js_publish_async",
                       details={"from_commit_msgs_per_s": rate(count, last - commit_wall),
                                "first_after_commit_s": round(first - commit_wall, 3),
                                "relay_process_cpu_us_per_msg": round(cpu / count * 1e6, 1) if cpu else None},
                       note=f"first to last stored message (server timestamps); from the commit "
                            f"{rate(count, last - commit_wall):,.0f} msgs/s"
                            + (f"; relay process CPU {cpu / count * 1e6:.0f} µs/msg" if cpu else ""))

"""Rebuild of reporting's projections from the streams, and peak memory per service."""

from __future__ import annotations

import asyncio
import contextlib
import time

import nats
import nats.js.errors

from antt.bench.query_stage import rollup_queries
from antt.bench.results import Measurement, progress, rate
from antt.bench.stack import peak_rss_mb
from antt.bench.stages import BenchContext, stage
from antt.messaging.streams import stream_name

# Durable consumers of services/reporting/consumers.py, by source service.
REPORTING_CONSUMERS = {"registry": "reporting-from-registry", "assessment": "reporting-from-assessment"}


async def _delete_durable(nats_url: str, stream: str, durable: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_consumer(stream, durable)
    finally:
        await nc.close()


@stage("rebuild", requires=("antt.reporting.v1.ReportingService/GetUnitCounts",),
       title="rebuild reporting projections from the stream")
async def rebuild_reporting(ctx: BenchContext) -> list[Measurement]:
    """Stop reporting, drop its durable consumer, start it on an empty database and time the replay."""
    stack = ctx.stack
    events = 0
    for source in REPORTING_CONSUMERS:
        events += await stack.stream_messages(stream_name(source))
    await asyncio.to_thread(stack.retire, "reporting")
    for source, durable in REPORTING_CONSUMERS.items():
        await _delete_durable(stack.nats.url, stream_name(source), durable)
    spawned = time.perf_counter()
    stack.restart("reporting", ctx.state["empty_reporting_url"])
    first: tuple[float, int] | None = None
    last_note = spawned
    deadline = spawned + max(600.0, events / 50)
    while True:
        applied = await asyncio.to_thread(stack.count, "reporting", "antt_tracking")
        now = time.perf_counter()
        if first is None and applied > 0:
            first = (now, applied)
        if applied >= events:
            break
        if now > deadline:
            raise TimeoutError(f"rebuild applied {applied}/{events} events")
        if now - last_note > 5:
            progress(f"rebuild: {applied:,}/{events:,} events applied")
            last_note = now
        await asyncio.sleep(0.1)
    done = time.perf_counter()
    await stack.wait_serving()
    per_province = dict(stack.rows("reporting", "SELECT province_code, units FROM reporting_province_unit_counts "
                                                "ORDER BY province_code"))
    checks = {"rebuilt units = generated": stack.count("reporting", "reporting_units") == len(ctx.country.units),
              "rebuilt per province = generated": per_province == ctx.country.per_province(),
              "events applied = events in stream": applied == events}
    start, at_start = first if first is not None else (spawned, 0)
    result = [Measurement("rebuild reporting from the stream (empty database)", value=rate(events - at_start,
                          done - start), unit="events/s", seconds=round(done - start, 2), count=events,
                          limit="js_pull_raw", checks=checks,
                          details={"with_process_start_s": round(done - spawned, 2),
                                   "events_per_s_with_start": rate(events, done - spawned)},
                          note=f"from the first applied event; {done - spawned:.1f} s with process start")]
    progress("rebuild: rollups again on the rebuilt projection")
    again = await rollup_queries(ctx)
    for m in again:
        m.name += " (after rebuild)"
    return result + [m for m in again if "1 client" in m.name]


@stage("memory", title="peak memory per service")
async def peak_memory(ctx: BenchContext) -> list[Measurement]:
    """VmHWM of every service process (and of nats-server) from /proc."""
    out = []
    rows = {f"{s} (before rebuild)": v for s, v in ctx.stack.retired_rss.items()}
    for service, proc in ctx.stack.processes.items():
        if proc.process is not None and proc.alive():
            rows[service] = peak_rss_mb(proc.process.pid)
    if ctx.stack.nats.process is not None:
        rows["nats-server"] = peak_rss_mb(ctx.stack.nats.process.pid)
    for name, values in rows.items():
        out.append(Measurement(f"peak RSS {name}", value=values.get("VmHWM"), unit="MB", details=values,
                               note="VmHWM from /proc/<pid>/status"))
    return out

"""Runs the bench: generate the country, start the stack, run the stages, measure the raw limits."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from antt.bench import (import_stage, reminder_stage, year_stage, query_stage,  # noqa: F401  (registers, in order)
                        replay_stage, rebuild_stage)
from antt.bench import limits as raw
from antt.bench.country import Country, generate
from antt.bench.report import machine, now_iso, ratio_to
from antt.bench.results import Measurement, progress
from antt.bench.stack import SERVED, Stack
from antt.bench.stages import BenchContext, run_stages
from antt.bench.year_stage import year_sample
from antt.contracts import subjects
from antt.messaging.streams import stream_name
from antt.runtime import gc_tuning
from antt.settings import CommonSettings
from antt.testing.postgres import temporary_databases

MIN_LIMIT_COUNT = 2_000
MAX_LIMIT_COUNT = 20_000


@dataclass
class Options:
    """What `antt bench` was asked for."""

    scale: float = 0.05
    seed: int = 2026
    clients: int = 50
    postgres_url: str | None = None
    only: tuple[str, ...] = ()
    query_calls: int = 300
    year_units: int | None = None  # units taken through the full year (None: every unit)
    reference_tree: str = "all"  # ANTT_REGISTRY_REFERENCE_TREE: the official tree loaded before the import
    limit_count: int | None = None  # messages/rows per raw limit (default: the units, within 2,000–20,000)


@dataclass
class BenchRun:
    """A finished run: summary, stage measurements and raw limits."""

    summary: dict[str, Any]
    stages: list[Measurement]
    limits: dict[str, Measurement] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        """Every stage that ran is correct (no errors, every check holds)."""
        return all(m.correct and m.status in ("ok", "not available yet") for m in self.stages)


def _databases(workdir: Path, postgres_url: str | None, stack: contextlib.ExitStack) -> dict[str, str]:
    names = [*SERVED, "reporting_rebuild", "raw"]
    if postgres_url is None:
        return {n: f"sqlite:///{workdir / f'{n}.db'}" for n in names}
    return dict(zip(names, stack.enter_context(temporary_databases(postgres_url, len(names))), strict=True))


async def _limits(ctx: BenchContext, urls: dict[str, str], postgres: bool, count: int | None
                  ) -> dict[str, Measurement]:
    units = ctx.country.units
    count = count or max(MIN_LIMIT_COUNT, min(len(units), MAX_LIMIT_COUNT))
    samples = await raw.sample_messages(ctx.stack.nats.url, stream_name("registry"), f"{subjects.PREFIX}.registry.v1.>")
    found: dict[str, Measurement] = dict(ctx.state.get("limits", {}))
    found.update(await raw.jetstream_limits(ctx.stack.nats.url, samples, count))
    sqlite_url = f"sqlite:///{ctx.stack.workdir / 'raw-insert.db'}"
    found["sqlite_insert"] = await asyncio.to_thread(raw.insert_limit, sqlite_url, units, count * 2)
    if postgres:
        found["pg_insert"] = await asyncio.to_thread(raw.insert_limit, urls["raw"], units, count * 2)
        found["pg_copy"] = await asyncio.to_thread(raw.copy_limit, urls["raw"], units, count * 2)
    return found


def _apply_ratios(stages: list[Measurement], limits: dict[str, Measurement], backend: str) -> None:
    db = limits.get("pg_insert" if backend == "postgresql" else "sqlite_insert")
    for m in stages:
        if m.status != "ok" or not m.limit:
            continue
        m.ratio = ratio_to(m, limits.get(m.limit))
        if m.unit.endswith("/s") and db is not None:
            m.details["ratio_to_db_insert"] = ratio_to(m, db)


async def _run(country: Country, options: Options, workdir: Path, urls: dict[str, str]) -> BenchRun:
    stack = Stack(workdir, urls, options.reference_tree)
    started, started_at = time.perf_counter(), now_iso()
    backend = "postgresql" if options.postgres_url else "sqlite"
    try:
        progress(f"stack: nats-server + {', '.join(SERVED)} on {backend} in {workdir}")
        await asyncio.to_thread(stack.start)
        await stack.wait_serving()
        progress(f"stack: waiting for the reference tree ({options.reference_tree}) to reach every read model")
        settled = await stack.settle()
        progress(f"stack: settled at {settled:,} registry events")
        ctx = BenchContext(country, stack, options.clients, backend, options.query_calls, options.year_units,
                           state={"empty_reporting_url": urls["reporting_rebuild"]})
        stages = await run_stages(ctx, options.only)
        await asyncio.to_thread(stack.stop_services)  # the limits run on a quiet machine
        progress("raw limits of the parts")
        limits = await _limits(ctx, urls, options.postgres_url is not None, options.limit_count)
    finally:
        await asyncio.to_thread(stack.close)
    _apply_ratios(stages, limits, backend)
    summary = {"scale": options.scale, "seed": options.seed, "units": len(country.units),
               "communes": len(country.communes), "provinces": len(country.per_province()),
               "per_type": country.per_type(), "reference_tree": options.reference_tree,
               "year_units": len(year_sample(country.units, options.year_units)), "backend": backend,
               "clients": options.clients,
               "started_at": started_at, "seconds": round(time.perf_counter() - started, 1), "machine": machine()}
    return BenchRun(summary, stages, limits)


def run(options: Options) -> BenchRun:
    """Run the whole bench in a temporary directory (and temporary PostgreSQL databases)."""
    progress(f"country: scale {options.scale}, seed {options.seed}")
    country = generate(options.scale, options.seed)
    progress(f"country: {len(country.units):,} units, {len(country.communes):,} communes, {country.per_type()}")
    # The clients share the machine with the services: the same threshold, no freeze (tests call run() in-process).
    gc_tuning.tune(CommonSettings.from_env().gc_young_threshold, freeze=False)
    with tempfile.TemporaryDirectory(prefix="antt-bench-") as tmp, contextlib.ExitStack() as dbs:
        urls = _databases(Path(tmp), options.postgres_url, dbs)
        return asyncio.run(_run(country, options, Path(tmp), urls))

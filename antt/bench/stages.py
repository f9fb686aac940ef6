"""The stage registry: each stage is an async function of the BenchContext returning measurements.

A stage declares the gRPC methods it needs; when a service does not offer them yet the stage is
reported as "not available yet" instead of running. New stages (richer rollups, a full year, the
reminder scan) are added with `@stage(...)` in a module imported by `antt.bench.runner`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from antt.bench.country import Country
from antt.bench.results import Measurement, progress
from antt.bench.stack import Stack


@dataclass
class BenchContext:
    """What stages share: the country, the running stack and options."""

    country: Country
    stack: Stack
    clients: int = 50
    backend: str = "sqlite"
    query_calls: int = 300  # calls per rollup measurement
    year_units: int | None = None  # units taken through the full year (None: all)
    state: dict[str, Any] = field(default_factory=dict)  # what one stage leaves for another


StageFn = Callable[[BenchContext], Awaitable[list[Measurement]]]


@dataclass(frozen=True)
class Stage:
    """A named stage, the gRPC methods it needs ("package.Service/Method") and its function."""

    name: str
    run: StageFn
    requires: Sequence[str] = ()
    title: str = ""


STAGES: list[Stage] = []
# The order stages run in, by the module that registers them: each needs what the ones before it built
# (units before the year, decisions before rollups and replay, the whole run before the rebuild and memory).
MODULE_ORDER = ("import_stage", "reminder_stage", "year_stage", "query_stage", "replay_stage", "rebuild_stage")


def ordered() -> list[Stage]:
    """The registered stages in run order (whichever module a caller happened to import first)."""
    def place(item: tuple[int, Stage]) -> tuple[int, int]:
        module = item[1].run.__module__.rsplit(".", 1)[-1]
        return (MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER), item[0])
    return [s for _, s in sorted(enumerate(STAGES), key=place)]


def stage(name: str, requires: Sequence[str] = (), title: str = "") -> Callable[[StageFn], StageFn]:
    """Register a stage (in the order of registration)."""

    def register(fn: StageFn) -> StageFn:
        STAGES.append(Stage(name, fn, tuple(requires), title or name))
        return fn

    return register


def service_methods(full_service: str) -> list[str]:
    """Methods of a gRPC service in the generated descriptors, e.g. "antt.assessment.v1.AssessmentService"."""
    from google.protobuf import descriptor_pool

    import antt.assessment.v1.assessment_service_pb2  # noqa: F401  (load every service descriptor)
    import antt.notifications.v1.notifications_service_pb2  # noqa: F401
    import antt.registry.v1.registry_service_pb2  # noqa: F401
    import antt.reporting.v1.reporting_service_pb2  # noqa: F401

    try:
        service = descriptor_pool.Default().FindServiceByName(full_service)
    except KeyError:
        return []
    return [m.name for m in service.methods]


def missing_methods(requires: Sequence[str]) -> list[str]:
    """Which of the required "package.Service/Method" names the contracts do not define."""
    missing = []
    for full in requires:
        service, _, method = full.partition("/")
        if method not in service_methods(service):
            missing.append(full)
    return missing


async def run_stages(ctx: BenchContext, only: Sequence[str] = ()) -> list[Measurement]:
    """Run every registered stage (or those named), in order; a failing stage is recorded, not fatal."""
    out: list[Measurement] = []
    for s in ordered():
        if only and s.name not in only:
            continue
        missing = missing_methods(s.requires)
        if missing:
            progress(f"stage {s.name}: not available yet (missing {', '.join(missing)})")
            offered = {m.partition("/")[0] for m in missing}
            has = "; ".join(f"{svc.rsplit('.', 1)[-1]} has only {', '.join(service_methods(svc)) or 'nothing'}"
                            for svc in sorted(offered))
            out.append(Measurement(s.title, status="not available yet",
                                   note=f"API not there yet / chưa có API ({has})"))
            continue
        progress(f"stage {s.name}: start")
        try:
            out.extend(await s.run(ctx))
        except Exception as exc:  # keep the other stages' results; the failure is in the table
            progress(f"stage {s.name}: FAILED {type(exc).__name__}: {exc}")
            out.append(Measurement(s.title, status="failed", errors=1, note=f"{type(exc).__name__}: {exc}"[:300]))
    return out

"""A full year through assessment's gRPC API: registration, self-assessment, submission, appraisal
(concurrent clients, one command each), then decisions covering lists of units (one DecideCases per
deciding authority, in chunks), communes last (their 70% rule needs their units decided); the
end-to-end lag runs until reporting's case rollup holds every decision.

Requests are built from the assessment rule catalogue (criteria to declare, deciding tier): the
bench is a client that knows the published rules, as a provincial portal would.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import grpc

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.bench.results import Measurement, latency_ms, progress, rate
from antt.bench.stages import BenchContext, stage
from antt.common.v1 import actor_pb2
from antt.events.v1 import assessment_pb2 as events_pb

YEAR = 2026
DECISION_CHUNK = 200
STEPS = ("RegisterCase", "RecordSelfAssessment", "SubmitCase", "AppraiseCase")


def _evidence(kind: str, name: str) -> events_pb.AssessmentEvidence:
    return events_pb.AssessmentEvidence(kind=kind, uri=f"s3://ho-so/{name}.pdf",
                                        sha256=hashlib.sha256(name.encode()).hexdigest(), title=name)


class Rules:
    """What the client needs from the rule catalogue: results meeting every criterion, deciding tiers."""

    def __init__(self, year: int) -> None:
        from services.assessment.rules import load_catalogue

        self.rules = load_catalogue().for_year(year)
        self._results: dict[tuple[str, str], list[events_pb.AssessmentCriterionResult]] = {}

    def results(self, unit_type: str, province: str, commune: str) -> list[events_pb.AssessmentCriterionResult]:
        """A self-assessment meeting every declarable criterion of the type in that province."""
        key = (unit_type, province)
        if key not in self._results:
            self._results[key] = self._build(unit_type, province, commune)
        return self._results[key]

    def _build(self, unit_type: str, province: str, commune: str) -> list[events_pb.AssessmentCriterionResult]:
        from services.assessment.domain.evaluation import UnitFacts, declarable
        from services.assessment.rules import CriterionKind, Tier, UnitType

        kind = UnitType(unit_type)
        by_id = {c.id: c for c in self.rules.criteria_for(kind, province)}
        out = []
        for cid in declarable(self.rules, UnitFacts(kind, province, commune, Tier.XA)):
            c = by_id[cid]
            if c.kind is CriterionKind.BOOLEAN:
                out.append(events_pb.AssessmentCriterionResult(criterion_id=cid, met=True,
                                                               evidence=[_evidence("REC-MINUTES", cid)]))
            elif c.threshold is not None and c.threshold.needs_previous_year:
                out.append(events_pb.AssessmentCriterionResult(criterion_id=cid, value=3.0, previous_value=5.0))
            elif c.threshold is not None:
                out.append(events_pb.AssessmentCriterionResult(criterion_id=cid, value=float(c.threshold.value)))
        return out

    def decider(self, unit_type: str, managed_by: str, province: str, commune: str) -> tuple[str, str]:
        """(tier, area code) of the authority that decides this unit's case."""
        from datetime import date

        from services.assessment.rules import Tier, UnitType

        managed = Tier(managed_by) if managed_by else None
        tiers = self.rules.authority.decider_tiers(UnitType(unit_type), managed, province, date(YEAR, 11, 10))
        tier = tiers[0].value if tiers else "xa"
        return tier, {"xa": commune, "tinh": province}.get(tier, "")


def _operator(commune: str) -> actor_pb2.Actor:
    return actor_pb2.Actor(id=f"u:can-bo-xa-{commune}", role="commune_operator", tier="commune", jurisdiction=commune)


async def _cycle(ctx: BenchContext, stub: pb_grpc.AssessmentServiceStub, rules: Rules, units: list[Any],
                 latencies: dict[str, list[float]], errors: list[str], appraised: list[tuple[Any, pb.Case]]) -> None:
    todo = iter(units)

    async def timed(name: str, call: Any, request: Any) -> Any:
        t0 = time.perf_counter()
        reply = await call(request, timeout=120)
        latencies[name].append(time.perf_counter() - t0)
        return reply

    async def client() -> None:
        for u in todo:
            actor = _operator(u.commune_code)
            try:
                case = await timed("RegisterCase", stub.RegisterCase, pb.RegisterCaseRequest(
                    unit_id=u.unit_id, year=YEAR, dossier=[_evidence("REG-FORM", u.code)],
                    effective_date=f"{YEAR}-01-15", actor=actor))
                await timed("RecordSelfAssessment", stub.RecordSelfAssessment, pb.RecordSelfAssessmentRequest(
                    case_id=case.case_id, results=rules.results(u.unit_type, u.province_code, u.commune_code),
                    effective_date=f"{YEAR}-10-01", actor=actor))
                await timed("SubmitCase", stub.SubmitCase, pb.SubmitCaseRequest(
                    case_id=case.case_id, dossier=[_evidence("REC-REQUEST", u.code)],
                    effective_date=f"{YEAR}-10-05", actor=actor))
                case = await timed("AppraiseCase", stub.AppraiseCase, pb.AppraiseCaseRequest(
                    case_id=case.case_id, effective_date=f"{YEAR}-10-20", actor=actor))
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{u.code}: {exc.code().name} {exc.details()}")
                continue
            appraised.append((u, case))
            if len(appraised) % max(1, len(units) // 10) == 0:
                progress(f"year: {len(appraised):,}/{len(units):,} cases appraised")

    await asyncio.gather(*(client() for _ in range(ctx.clients)))


async def _decide(stub: pb_grpc.AssessmentServiceStub, rules: Rules, appraised: list[tuple[Any, pb.Case]],
                  latencies: list[float], errors: list[str]) -> int:
    groups: dict[tuple[str, str], list[pb.Case]] = collections.defaultdict(list)
    for u, case in appraised:
        groups[rules.decider(u.unit_type, case.managed_by, u.province_code, u.commune_code)].append(case)
    decided = 0
    for number, ((tier, area), cases) in enumerate(sorted(groups.items()), start=1):
        for start in range(0, len(cases), DECISION_CHUNK):
            chunk = cases[start:start + DECISION_CHUNK]
            decision = pb.Decision(number=f"{number}-{start // DECISION_CHUNK + 1}/QĐ-UBND", date=f"{YEAR}-11-10",
                                   signer="Nguyễn Văn An", signer_title="Chủ tịch",
                                   authority=pb.Authority(tier=tier, name=f"Ủy ban nhân dân ({tier} {area})",
                                                          area_code=area))
            request = pb.DecideCasesRequest(cases=[pb.CaseOutcome(case_id=c.case_id, recognised=True) for c in chunk],
                                            decision=decision, actor=_operator(chunk[0].commune_code))
            t0 = time.perf_counter()
            try:
                reply = await stub.DecideCases(request, timeout=300)
            except grpc.aio.AioRpcError as exc:
                errors.append(f"DecideCases {tier} {area} ({len(chunk)} cases): {exc.code().name} {exc.details()}")
                continue
            latencies.append(time.perf_counter() - t0)
            decided += sum(1 for c in reply.cases if c.state == "cong_nhan")
    return decided


def year_sample(units: list[Any], wanted: int | None) -> list[Any]:
    """Every unit, or whole communes (in code order) until at least `wanted` units: a commune's own case
    needs all of its units registered."""
    if not wanted or wanted >= len(units):
        return list(units)
    by_commune: dict[str, list[Any]] = collections.defaultdict(list)
    for u in units:
        by_commune[u.commune_code].append(u)
    chosen: list[Any] = []
    for code in sorted(by_commune):
        if len(chosen) >= wanted:
            break
        chosen.extend(by_commune[code])
    return chosen


@stage("full_year", requires=tuple(f"antt.assessment.v1.AssessmentService/{m}" for m in (*STEPS, "DecideCases")),
       title="full year: registration, self-assessment, appraisal, decision")
async def full_year(ctx: BenchContext) -> list[Measurement]:
    """Every generated unit through one year's cycle; decisions batched per deciding authority."""
    ids = dict(ctx.stack.rows("assessment", "SELECT code, unit_id FROM assessment_unit_replica"))
    sample = year_sample(ctx.country.units, ctx.year_units)
    units = [_Unit(u.code, u.unit_type, u.province_code, u.commune_code, ids[u.code]) for u in sample if u.code in ids]
    communes = [u for u in units if u.unit_type == "xa_phuong"]
    others = [u for u in units if u.unit_type != "xa_phuong"]
    rules = await asyncio.to_thread(Rules, YEAR)
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    decide_latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    decided = 0
    async with ctx.stack.channel("assessment") as channel:
        stub = pb_grpc.AssessmentServiceStub(channel)
        for group in (others, communes):  # a commune is decided once its units are
            appraised: list[tuple[Any, pb.Case]] = []
            await _cycle(ctx, stub, rules, group, latencies, errors, appraised)
            progress(f"year: deciding {len(appraised):,} cases")
            decided += await _decide(stub, rules, appraised, decide_latencies, errors)
    commands_done = time.perf_counter()
    progress("year: waiting for reporting's case rollup")
    final = await _wait_reporting(ctx, decided, timeout=max(600.0, len(units) / 10))
    end = time.perf_counter()
    commands = sum(len(v) for v in latencies.values()) + len(decide_latencies)
    all_single = [x for v in latencies.values() for x in v]
    checks = {"every sampled unit registered a case": len(latencies["RegisterCase"]) == len(sample),
              "every case recognised": decided == len(sample),
              "reporting holds every decision": final == decided}
    per_step = {k: latency_ms(v) for k, v in latencies.items()} | {"DecideCases": latency_ms(decide_latencies)}
    return [Measurement("full year, single-unit commands (4 per unit)", value=rate(len(all_single),
                        commands_done - start), unit="commands/s", count=len(all_single),
                        seconds=round(commands_done - start, 2),
                        latency_ms=latency_ms(all_single), errors=len(errors),
                        details={"per_command_ms": per_step, "first_errors": errors[:5]},
                        note=f"{ctx.clients} concurrent clients; decisions: {len(decide_latencies)} DecideCases "
                             f"of ≤{DECISION_CHUNK} cases"),
            Measurement("full year end to end, until reporting's rollup is final", value=rate(len(sample),
                        end - start), unit="units/s", seconds=round(end - start, 2), count=len(sample),
                        errors=len(errors), checks=checks,
                        details={"commands": commands, "lag_after_last_command_s": round(end - commands_done, 2)},
                        note=f"{commands:,} commands; reporting final {end - commands_done:.1f} s after the last")]


@dataclass(frozen=True)
class _Unit:
    """A generated unit with the id the registry gave it."""

    code: str
    unit_type: str
    province_code: str
    commune_code: str
    unit_id: str


async def _wait_reporting(ctx: BenchContext, decided: int, timeout: float) -> int:
    """Until reporting's case read model holds `decided` decisions of the year (or the timeout)."""
    deadline = time.perf_counter() + timeout
    query = f"SELECT count(*) FROM reporting_cases WHERE recognised IS NOT NULL AND year = {YEAR}"
    while True:
        exists = await asyncio.to_thread(ctx.stack.count, "reporting", "reporting_cases")
        final = int((await asyncio.to_thread(ctx.stack.rows, "reporting", query))[0][0]) if exists else 0
        if final >= decided or time.perf_counter() > deadline:
            return final
        await asyncio.sleep(0.25)

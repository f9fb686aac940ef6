"""A full year through assessment's gRPC API, with the batch commands where the domain has them:
each commune records the registrations it received as lists (RegisterCases); every unit records its
self-assessment and submits its dossier itself, in one SubmitCase carrying the self-assessment the dossier
contains (concurrent clients, one command per unit; the same two events as RecordSelfAssessment then
SubmitCase); the commune's standing office appraises its cases in sessions (AppraiseCases);
then decisions covering lists of units (one DecideCases per deciding authority, in chunks), communes
last (their 70% rule needs their units decided). The end-to-end time runs until reporting's case
rollup holds every decision.

The unit commands are measured twice at the same 50 clients: saturated (closed loop, each client
sends its next command as soon as the last is answered, so latency ≈ clients ÷ throughput), and at
an offered load below saturation (open loop: each client sends on a fixed schedule whatever the
replies, and latency runs from the scheduled send time, so a server falling behind shows in it
instead of being hidden by clients that wait: no coordinated omission).

Requests are built from the assessment rule catalogue (criteria to declare, deciding tier): the
bench is a client that knows the published rules, as a provincial portal would.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.bench.results import Measurement, latency_ms, progress, rate
from antt.bench.stack import cpu_seconds
from antt.bench.stages import BenchContext, stage
from antt.common.v1 import actor_pb2
from antt.events.v1 import assessment_pb2 as events_pb

YEAR = 2026
DECISION_CHUNK = 200
REGISTRATION_CHUNK = 500  # registrations per RegisterCases (a commune's list, split when longer)
APPRAISAL_CHUNK = 500  # cases per AppraiseCases session
BATCH_CALLS = 4  # batch calls in flight at once (communes working at the same time)
NATIONAL_UNITS = 200_000  # S = 1.0
WAVE_UNITS = 5_000  # units of the communes that go through the year together (see _waves)
PACED_SHARE = 0.1  # of the units: their unit commands are sent at the paced rate instead
PACED_LOAD = 0.5  # the paced rate, as a share of the saturated throughput just measured
STEPS = ("RegisterCases", "SubmitCase", "AppraiseCases")
UNIT_COMMANDS = 1  # per unit: SubmitCase with its self-assessment (RecordSelfAssessment + SubmitCase before)


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


@dataclass
class _Year:
    """What the year's steps share: the stub, the rules, the cases made, latencies and errors."""

    stub: pb_grpc.AssessmentServiceStub
    rules: Rules
    case_ids: dict[str, str] = field(default_factory=dict)  # unit code -> case id
    appraised: list[tuple[Any, pb.Case]] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: list[str] = field(default_factory=list)


def _by_commune(units: list[Any], chunk: int) -> list[list[Any]]:
    """The units of each commune, in lists of at most `chunk` (what one commune office sends at once)."""
    groups: dict[str, list[Any]] = collections.defaultdict(list)
    for u in units:
        groups[u.commune_code].append(u)
    return [g[i:i + chunk] for _, g in sorted(groups.items()) for i in range(0, len(g), chunk)]


async def _in_parallel(lists: list[list[Any]], call: Any, calls: int) -> None:
    todo = iter(lists)

    async def worker() -> None:
        for part in todo:
            await call(part)
    await asyncio.gather(*(worker() for _ in range(calls)))


def _item_errors(y: _Year, what: str, units: list[Any], reply: pb.CaseResults) -> list[tuple[Any, pb.Case]]:
    ok = []
    for u, r in zip(units, reply.results):
        if r.HasField("error"):
            y.errors.append(f"{what} {u.code}: {r.error.code} {r.error.reason} {r.error.message_en}")
        else:
            ok.append((u, r.case))
    return ok


async def _list_call(y: _Year, method: str, request: Any, where: str) -> Any:
    """One call of a list command, timed into the year's latencies; None (and an error noted) when it fails."""
    t0 = time.perf_counter()
    try:
        reply = await getattr(y.stub, method)(request, timeout=300)
    except grpc.aio.AioRpcError as exc:
        y.errors.append(f"{method} {where}: {exc.code().name} {exc.details()}")
        return None
    y.latencies[method].append(time.perf_counter() - t0)
    return reply


async def _register(y: _Year, units: list[Any]) -> None:
    async def call(part: list[Any]) -> None:
        request = pb.RegisterCasesRequest(registrations=[pb.CaseRegistration(
            unit_id=u.unit_id, year=YEAR, dossier=[_evidence("REG-FORM", u.code)], effective_date=f"{YEAR}-01-15")
            for u in part], actor=_operator(part[0].commune_code))
        reply = await _list_call(y, "RegisterCases", request, part[0].commune_code)
        if reply is None:
            return
        for u, case in _item_errors(y, "RegisterCases", part, reply):
            y.case_ids[u.code] = case.case_id
    await _in_parallel(_by_commune(units, REGISTRATION_CHUNK), call, BATCH_CALLS)


async def _unit_steps(y: _Year, u: Any, send: Any) -> bool:
    """The unit's own command (its dossier with the self-assessment); `send(name, call, request)` times it.
    False when it failed."""
    case_id = y.case_ids.get(u.code)
    if case_id is None:
        return False
    actor = _operator(u.commune_code)
    try:
        await send("SubmitCase", y.stub.SubmitCase, pb.SubmitCaseRequest(
            case_id=case_id, dossier=[_evidence("REC-REQUEST", u.code)], effective_date=f"{YEAR}-10-05",
            self_assessment_results=y.rules.results(u.unit_type, u.province_code, u.commune_code),
            self_assessed_on=f"{YEAR}-10-01", actor=actor))
    except grpc.aio.AioRpcError as exc:
        y.errors.append(f"{u.code}: {exc.code().name} {exc.details()}")
        return False
    return True


async def _saturated(y: _Year, units: list[Any], clients: int) -> list[float]:
    """Closed loop: each client sends its next command as soon as the last is answered."""
    todo, latencies = iter(units), []

    async def send(name: str, call: Any, request: Any) -> Any:
        t0 = time.perf_counter()
        reply = await call(request, timeout=120)
        latencies.append(time.perf_counter() - t0)
        y.latencies[name].append(latencies[-1])
        return reply

    done = 0

    async def client() -> None:
        nonlocal done
        for u in todo:
            await _unit_steps(y, u, send)
            done += 1
            if done % max(1, len(units) // 10) == 0:
                progress(f"year: {done:,}/{len(units):,} units self-assessed and submitted (saturated)")
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def _paced(y: _Year, units: list[Any], clients: int, per_second: float) -> list[float]:
    """Open loop at `per_second` commands in all: command i of the run is due at start + i / rate, client
    i mod clients sends it then (or at once when it is late); its latency runs from when it was due."""
    latencies: list[float] = []
    start = time.perf_counter() + 0.1
    slots = iter(range(UNIT_COMMANDS * len(units)))

    async def send(name: str, call: Any, request: Any) -> Any:
        due = start + next(slots) / per_second
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        reply = await call(request, timeout=120)
        latencies.append(time.perf_counter() - due)
        return reply

    async def client(k: int) -> None:
        for u in units[k::clients]:
            await _unit_steps(y, u, send)
    await asyncio.gather(*(client(k) for k in range(clients)))
    return latencies


async def _appraise(y: _Year, units: list[Any]) -> None:
    async def call(part: list[Any]) -> None:
        part = [u for u in part if u.code in y.case_ids]
        if not part:
            return
        request = pb.AppraiseCasesRequest(appraisals=[pb.CaseAppraisal(
            case_id=y.case_ids[u.code], effective_date=f"{YEAR}-10-20") for u in part],
            actor=_operator(part[0].commune_code))
        reply = await _list_call(y, "AppraiseCases", request, part[0].commune_code)
        if reply is None:
            return
        y.appraised.extend(_item_errors(y, "AppraiseCases", part, reply))
    await _in_parallel(_by_commune(units, APPRAISAL_CHUNK), call, BATCH_CALLS)


async def _decide(y: _Year, appraised: list[tuple[Any, pb.Case]], tag: str = "") -> int:
    groups: dict[tuple[str, str], list[pb.Case]] = collections.defaultdict(list)
    for u, case in appraised:
        groups[y.rules.decider(u.unit_type, case.managed_by, u.province_code, u.commune_code)].append(case)
    chunks = [(number, tier, area, cases[start:start + DECISION_CHUNK], start // DECISION_CHUNK + 1)
              for number, ((tier, area), cases) in enumerate(sorted(groups.items()), start=1)
              for start in range(0, len(cases), DECISION_CHUNK)]
    decided = 0

    async def call(items: list[Any]) -> None:
        nonlocal decided
        number, tier, area, chunk, part = items[0]
        decision = pb.Decision(number=f"{tag}{number}-{part}/QĐ-UBND", date=f"{YEAR}-11-10",
                               signer="Nguyễn Văn An", signer_title="Chủ tịch",
                               authority=pb.Authority(tier=tier, name=f"Ủy ban nhân dân ({tier} {area})",
                                                      area_code=area))
        request = pb.DecideCasesRequest(cases=[pb.CaseOutcome(case_id=c.case_id, recognised=True) for c in chunk],
                                        decision=decision, actor=_operator(chunk[0].commune_code))
        reply = await _list_call(y, "DecideCases", request, f"{tier} {area} ({len(chunk)} cases)")
        if reply is None:
            return
        decided += sum(1 for c in reply.cases if c.state == "cong_nhan")
    await _in_parallel([[c] for c in chunks], call, BATCH_CALLS)
    return decided


def _waves(units: list[Any]) -> list[list[Any]]:
    """Whole communes, in code order, in groups of about WAVE_UNITS: communes run their year side by side,
    and each group goes through every step before the next starts, so its cases stay in assessment's
    case cache (a wave is far smaller than the cache) from registration to decision."""
    waves: list[list[Any]] = [[]]
    for part in _by_commune(units, len(units) or 1):
        if len(waves[-1]) + len(part) > WAVE_UNITS and waves[-1]:
            waves.append([])
        waves[-1].extend(part)
    return [w for w in waves if w]


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
    """Every sampled unit through one year's cycle; batch commands where the domain has them."""
    ids = dict(ctx.stack.rows("assessment", "SELECT code, unit_id FROM assessment_unit_replica"))
    sample = year_sample(ctx.country.units, ctx.year_units)
    units = [_Unit(u.code, u.unit_type, u.province_code, u.commune_code, ids[u.code]) for u in sample if u.code in ids]
    rules = await asyncio.to_thread(Rules, YEAR)
    spent: dict[str, float] = collections.defaultdict(float)  # seconds per step, over every wave
    saturated: list[float] = []
    paced: list[float] = []
    offered_rates: list[float] = []
    decided = 0
    start = time.perf_counter()

    cpu: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    cpu_at = _cpu_snapshot(ctx)

    def lap(step: str, since: float) -> float:
        nonlocal cpu_at
        now = time.perf_counter()
        spent[step] += now - since
        cpu_now = _cpu_snapshot(ctx)
        for name, seconds in cpu_now.items():
            cpu[step][name] += seconds - cpu_at.get(name, seconds)
        cpu_at = cpu_now
        return now

    async with ctx.stack.channel("assessment") as channel:
        y = _Year(pb_grpc.AssessmentServiceStub(channel), rules)
        for n, wave in enumerate(_waves(units), start=1):
            progress(f"year: wave {n}: {len(wave):,} units of {len({u.commune_code for u in wave}):,} communes")
            t = time.perf_counter()
            await _register(y, wave)
            t = lap("registered", t)
            paced_units = wave[::round(1 / PACED_SHARE)] if len(wave) >= 2 * ctx.clients else []
            chosen = {u.code for u in paced_units}
            own = await _saturated(y, [u for u in wave if u.code not in chosen], ctx.clients)
            saturated.extend(own)
            offered = max(1.0, round(PACED_LOAD * len(own) / max(time.perf_counter() - t, 1e-9)))
            t = lap("saturated", t)
            if paced_units:
                offered_rates.append(offered)
                paced.extend(await _paced(y, paced_units, ctx.clients, offered))
            t = lap("paced", t)
            first_appraised = len(y.appraised)
            await _appraise(y, wave)
            t = lap("appraised", t)
            for group in (False, True):  # a commune is decided once its units are
                batch = [(u, c) for u, c in y.appraised[first_appraised:] if (u.unit_type == "xa_phuong") is group]
                decided += await _decide(y, batch, f"W{n}-")
            lap("decided", t)
    commands_done = time.perf_counter()
    progress("year: waiting for reporting's case rollup")
    final = await _wait_reporting(ctx, decided, timeout=max(600.0, len(units) / 10))
    end = time.perf_counter()
    lap("reporting_lag", commands_done)
    cpu_table = {step: {k: round(v, 2) for k, v in sorted(by.items(), key=lambda kv: -kv[1])}
                 for step, by in cpu.items()}
    progress(f"year: CPU seconds per step and process: {cpu_table}")
    lat = y.latencies
    calls = sum(len(v) for v in lat.values()) + len(paced)
    unit_commands = len(saturated) + len(paced)
    checks = {"every sampled unit registered a case": len(y.case_ids) == len(sample),
              "every case recognised": decided == len(sample),
              "reporting holds every decision": final == decided}
    per_step = {k: latency_ms(v) for k, v in lat.items()}
    first = {"first_errors": y.errors[:5]}
    offered = round(sum(offered_rates) / len(offered_rates)) if offered_rates else 0
    paced_count = len(paced)
    marks = {"registered": spent["registered"], "saturated": spent["saturated"], "paced": spent["paced"],
             "appraised": spent["appraised"], "decided": spent["decided"]}
    return [
        Measurement("full year, registrations as lists (RegisterCases)", value=rate(len(y.case_ids),
                    marks["registered"]), unit="units/s", count=len(y.case_ids),
                    seconds=round(marks["registered"], 2), latency_ms=latency_ms(lat["RegisterCases"]),
                    errors=len(units) - len(y.case_ids), details=first,
                    note=f"{len(lat['RegisterCases'])} calls of ≤{REGISTRATION_CHUNK} registrations, "
                         f"{BATCH_CALLS} in flight; latency per call"),
        Measurement("full year, unit commands, saturated (SubmitCase with its self-assessment)",
                    value=rate(len(saturated), marks["saturated"]), unit="commands/s",
                    count=len(saturated), seconds=round(marks["saturated"], 2),
                    latency_ms=latency_ms(saturated), errors=UNIT_COMMANDS * len(units) - unit_commands,
                    details={"per_command_ms": per_step} | first,
                    note=f"saturated: {ctx.clients} closed-loop clients as fast as they go, so latency ≈ "
                         f"clients ÷ throughput"),
        Measurement(f"full year, unit commands at {offered:,.0f} commands/s offered ({ctx.clients} clients, open loop)",
                    value=rate(paced_count, marks["paced"]), unit="commands/s", count=paced_count,
                    seconds=round(marks["paced"], 2), latency_ms=latency_ms(paced),
                    details={"offered_per_s": offered, "offered_per_wave": offered_rates},
                    note=f"{PACED_LOAD:.0%} of the saturated rate; latency from each command's scheduled send "
                         f"time (no coordinated omission); target p99 < 25 ms"),
        Measurement("full year, appraisal sessions (AppraiseCases)", value=rate(len(y.appraised),
                    marks["appraised"]), unit="cases/s", count=len(y.appraised),
                    seconds=round(marks["appraised"], 2),
                    latency_ms=latency_ms(lat["AppraiseCases"]), errors=len(y.case_ids) - len(y.appraised),
                    note=f"{len(lat['AppraiseCases'])} sessions of ≤{APPRAISAL_CHUNK} cases; latency per call"),
        Measurement("full year, decisions (DecideCases)", value=rate(decided, marks["decided"]),
                    unit="cases/s", count=decided, seconds=round(marks["decided"], 2),
                    latency_ms=latency_ms(lat["DecideCases"]), errors=len(y.appraised) - decided,
                    note=f"{len(lat['DecideCases'])} DecideCases of ≤{DECISION_CHUNK} cases, communes last"),
        Measurement("full year end to end, until reporting's rollup is final", value=rate(len(sample),
                    end - start), unit="units/s", seconds=round(end - start, 2), count=len(sample),
                    errors=len(y.errors), checks=checks,
                    details={"calls": calls, "unit_commands": unit_commands,
                             "lag_after_last_command_s": round(end - commands_done, 2),
                             "steps_s": {k: round(v, 2) for k, v in marks.items()},
                             "cpu_s_per_step": cpu_table,
                             "linear_200k_units_s": round((end - start) * NATIONAL_UNITS / max(len(sample), 1))}
                    | first,
                    note=f"{calls:,} calls ({unit_commands:,} unit commands); reporting final "
                         f"{end - commands_done:.1f} s after the last; ×{NATIONAL_UNITS / max(len(sample), 1):,.1f} "
                         f"(waves of the same size) ≈ {(end - start) * NATIONAL_UNITS / max(len(sample), 1):,.0f} s "
                         f"for 200,000 units; target < 600 s"),
    ]


@dataclass(frozen=True)
class _Unit:
    """A generated unit with the id the registry gave it."""

    code: str
    unit_type: str
    province_code: str
    commune_code: str
    unit_id: str


def _cpu_snapshot(ctx: BenchContext) -> dict[str, float]:
    """CPU seconds used so far by each stack process, nats-server and the bench itself (to see where a step's
    CPU goes)."""
    out = {name: s for name in list(ctx.stack.processes) if (s := ctx.stack.cpu(name)) is not None}
    nats = getattr(ctx.stack.nats, "process", None)
    if nats is not None and nats.poll() is None:
        out["nats-server"] = cpu_seconds(nats.pid)
    out["bench"] = time.process_time()
    return out


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

"""AssessmentService over gRPC: validate -> convert -> application call -> reply."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import sqlalchemy as sa
from google.protobuf import any_pb2

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.auth.authz import requires
from antt.contracts.meta import actor_pb
from antt.errors import DomainError, InvalidArgumentError, NotFoundError, parse_enum
from antt.grpcx.auth import request_actor
from antt.grpcx.errors import map_domain_errors
from antt.grpcx.paging import decode_page_index, encode_page_token, page_size
from services.assessment import case_queries
from services.assessment.api import converters as cv
from services.assessment.api import jurisdiction as j
from services.assessment.application import Appraisal, Assessments, Registration
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.classification import Classification
from services.assessment.domain.errors import CaseNotFoundError
from services.assessment.domain.states import ClosureReason, Outcome
from services.assessment.projections import unit_replica
from services.assessment.unit_directory import managing_tier
from services.assessment.rules.types import UnitType

T = TypeVar("T")

# Commands run on threads of their own rather than asyncio's default executor, which has min(32, cores + 4)
# threads (6 on two cores). A command spends most of its time on its thread waiting in the group commit
# (antt.eventstore.group) for the transaction it shares, so the thread count caps how many commands share
# one: with 50 clients, 6 threads meant small transactions, and more of them, each with its commit and
# its thread hand-offs (measured: ≈10% less server CPU per SubmitCase with 16 or 32 threads than with 6).
# The default, 14 (ANTT_ASSESSMENT_COMMAND_THREADS), stays within the event store's connection pool
# (5 + 10 overflow), one left for an in-process outbox relay.
COMMAND_THREADS = 14



def _require_items(items: list[Any], field: str) -> None:
    if not items:
        raise InvalidArgumentError("Danh sách rỗng", "the list is empty", field=field)


def _parsed(entries: Iterable[Any], parse: Callable[[int, Any], T]) -> list[T | DomainError]:
    """Each entry parsed, or the error refusing it (answered for that item alone)."""
    out: list[T | DomainError] = []
    for n, entry in enumerate(entries):
        try:
            out.append(parse(n, entry))
        except DomainError as refused:
            out.append(refused)
    return out


def _case_results(results: Iterable[AssessmentCase | DomainError]) -> pb.CaseResults:
    """One CaseResult per item: the case as the single command answers it, or the error it would raise."""
    reply = pb.CaseResults()
    for r in results:
        if isinstance(r, DomainError):
            reply.results.add(error=pb.ItemError(code=r.kind.value, reason=r.reason, message_vi=r.message_vi,
                                                 message_en=r.message_en, field=r.field))
        else:
            reply.results.add(case=cv.case_to_pb(r))
    return reply


class AssessmentServicer(pb_grpc.AssessmentServiceServicer):
    """Thin adapter from gRPC to the Assessments application and the unit replica."""

    authz_service = "assessment"

    def __init__(self, app: Assessments, engine: sa.Engine, command_threads: int = COMMAND_THREADS) -> None:
        self.app = app
        self.engine = engine
        self.command_threads = command_threads
        self._executor: ThreadPoolExecutor | None = None  # made by the first command (on the event loop)
        self.authz_resolver = j.ReplicaResolver(app, engine)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`asyncio.to_thread(fn, ...)` on the command threads: the call runs in a copy of this context."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._command_executor(), call)

    def _command_executor(self) -> ThreadPoolExecutor:
        """This servicer's command threads (idle ones are joined at exit)."""
        if self._executor is None:  # only the event loop's thread calls this: no lock needed
            self._executor = ThreadPoolExecutor(self.command_threads, thread_name_prefix="assessment-command")
        return self._executor

    def _classification_pb(self, c: Classification) -> pb.Classification:
        label = ""
        if c.level:
            label = self.app.rules.get(c.rule_set_id).classification.level(c.level).label_vi
        return cv.classification_to_pb(c, label)

    # -- replica --------------------------------------------------------------------------------
    def _replicated(self, unit_id: str) -> pb.ReplicatedUnit:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(unit_replica).where(unit_replica.c.unit_id == unit_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"Chưa có đơn vị {unit_id} trong bản sao", f"unit {unit_id} is not in the replica",
                                field="unit_id", reason="UNIT_NOT_REPLICATED")
        return pb.ReplicatedUnit(
            unit_id=row["unit_id"], code=row["code"], name=row["name"], unit_type=row["unit_type"],
            province_code=row["province_code"], commune_code=row["commune_code"], eligible=bool(row["eligible"]),
            eligibility_reason=row["eligibility_reason"], managing_authority=row["managing_authority"],
            managed_by=managing_tier(row["managing_authority"], UnitType(row["unit_type"])).value,
            closed_on=row["closed_on"] or "")

    def _count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(unit_replica)).scalar() or 0)

    @requires(j.UNIT_READ)
    @map_domain_errors
    async def GetReplicatedUnit(self, request: pb.GetReplicatedUnitRequest, context: grpc.aio.ServicerContext
                                ) -> pb.ReplicatedUnit:
        return await self._run(self._replicated, request.unit_id)

    @requires(j.NATIONAL_READ)
    @map_domain_errors
    async def CountReplicatedUnits(self, request: pb.CountReplicatedUnitsRequest,
                                   context: grpc.aio.ServicerContext) -> pb.CountReplicatedUnitsResponse:
        return pb.CountReplicatedUnitsResponse(units=await self._run(self._count))

    # -- case commands --------------------------------------------------------------------------
    @requires(j.UNIT_SELF_WRITE)
    @map_domain_errors
    async def RegisterCase(self, request: pb.RegisterCaseRequest, context: grpc.aio.ServicerContext) -> pb.Case:
        unit_id = cv.parse_uuid(request.unit_id, "unit_id")
        year = cv.parse_year(request.year)
        dossier = cv.evidence_from_pb(request.dossier)
        case = await self._run(self.app.register_case, unit_id, year, dossier, request_actor(request),
                               cv.parse_date(request.effective_date, "effective_date"))
        return cv.case_to_pb(case)

    @requires(j.CASE_SELF_WRITE)
    @map_domain_errors
    async def RecordSelfAssessment(self, request: pb.RecordSelfAssessmentRequest,
                                   context: grpc.aio.ServicerContext) -> pb.Case:
        case_id = cv.parse_uuid(request.case_id, "case_id")
        case = await self._run(self.app.record_self_assessment, case_id, cv.results_from_pb(request.results),
                               request_actor(request), cv.parse_date(request.effective_date, "effective_date"),
                               cv.evidence_from_pb(request.documents))
        return cv.case_to_pb(case)

    @requires(j.CASE_SELF_WRITE)
    @map_domain_errors
    async def SubmitCase(self, request: pb.SubmitCaseRequest, context: grpc.aio.ServicerContext) -> pb.Case:
        case_id = cv.parse_uuid(request.case_id, "case_id")
        dossier, on = cv.evidence_from_pb(request.dossier), cv.parse_date(request.effective_date, "effective_date")
        if request.self_assessment_results:  # the dossier with its self-assessment: both events in one save
            case = await self._run(self.app.submit_self_assessed, case_id,
                                   cv.results_from_pb(request.self_assessment_results), dossier,
                                   request_actor(request), on,
                                   cv.parse_date(request.self_assessed_on, "self_assessed_on"),
                                   cv.evidence_from_pb(request.self_assessment_documents))
        elif request.self_assessment_documents or request.self_assessed_on:
            raise InvalidArgumentError("Tài liệu, ngày tự đánh giá cần kèm kết quả tự đánh giá",
                                       "self-assessment documents or date need self_assessment_results",
                                       field="self_assessment_results")
        else:
            case = await self._run(self.app.submit, case_id, dossier, request_actor(request), on)
        return cv.case_to_pb(case)

    @requires(j.CASE_WRITE)
    @map_domain_errors
    async def AppraiseCase(self, request: pb.AppraiseCaseRequest, context: grpc.aio.ServicerContext) -> pb.Case:
        case_id = cv.parse_uuid(request.case_id, "case_id")
        case = await self._run(self.app.appraise, case_id, cv.findings_from_pb(request.findings),
                               request_actor(request), cv.parse_date(request.effective_date, "effective_date"),
                               request.return_reason)
        return cv.case_to_pb(case)

    @requires(j.DECIDE_CASES)
    @map_domain_errors
    async def DecideCases(self, request: pb.DecideCasesRequest, context: grpc.aio.ServicerContext
                          ) -> pb.DecideCasesResponse:
        outcomes, digests = {}, {}
        for item in request.cases:
            case_id = cv.parse_uuid(item.case_id, "cases.case_id")
            if case_id in outcomes:
                raise InvalidArgumentError(f"Hồ sơ {case_id} được nêu hai lần", f"case {case_id} is named twice",
                                           field="cases")
            outcomes[case_id] = Outcome.DAT if item.recognised else Outcome.CHUA_DAT
            if item.assessment_digest:
                digests[case_id] = item.assessment_digest
        decision = cv.decision_from_pb(request.decision)
        cases = await self._run(self.app.decide_many, outcomes, decision, request_actor(request), digests)
        reply = pb.DecideCasesResponse()
        for c in cases:
            reply.cases.add(**cv.case_fields(c))
        return reply

    @requires(j.REGISTER_CASES)
    @map_domain_errors
    async def RegisterCases(self, request: pb.RegisterCasesRequest, context: grpc.aio.ServicerContext
                            ) -> pb.CaseResults:
        seen: set[tuple[str, int]] = set()
        for r in request.registrations:
            if (r.unit_id, r.year) in seen:
                raise InvalidArgumentError(f"Đơn vị {r.unit_id} được đăng ký hai lần cho năm {r.year}",
                                           f"unit {r.unit_id} is registered twice for {r.year}",
                                           field="registrations")
            seen.add((r.unit_id, r.year))

        def parse(n: int, r: pb.CaseRegistration) -> Registration:
            return Registration(cv.parse_uuid(r.unit_id, f"registrations[{n}].unit_id"),
                                cv.parse_year(r.year, f"registrations[{n}].year"), cv.evidence_from_pb(r.dossier),
                                cv.parse_date(r.effective_date, f"registrations[{n}].effective_date"))

        return await self._per_item(_parsed(request.registrations, parse), "registrations",
                                    self.app.register_cases, request)

    @requires(j.APPRAISE_CASES)
    @map_domain_errors
    async def AppraiseCases(self, request: pb.AppraiseCasesRequest, context: grpc.aio.ServicerContext
                            ) -> pb.CaseResults:
        seen: set[str] = set()
        for a in request.appraisals:
            if a.case_id in seen:
                raise InvalidArgumentError(f"Hồ sơ {a.case_id} được nêu hai lần", f"case {a.case_id} is named twice",
                                           field="appraisals")
            seen.add(a.case_id)

        def parse(n: int, a: pb.CaseAppraisal) -> Appraisal:
            return Appraisal(cv.parse_uuid(a.case_id, f"appraisals[{n}].case_id"),
                             tuple(cv.findings_from_pb(a.findings)), a.return_reason,
                             cv.parse_date(a.effective_date, f"appraisals[{n}].effective_date"))

        return await self._per_item(_parsed(request.appraisals, parse), "appraisals", self.app.appraise_cases, request)

    async def _per_item(self, items: list[Any], field: str, command: Callable[..., list[AssessmentCase]],
                        request: Any) -> pb.CaseResults:
        """Run a list command on the items that parsed; answer one result per item, in the request's order."""
        _require_items(items, field)
        valid = [i for i in items if not isinstance(i, DomainError)]
        done = iter(await self._run(command, valid, request_actor(request)))
        return _case_results(i if isinstance(i, DomainError) else next(done) for i in items)

    @requires(j.CASE_WRITE)
    @map_domain_errors
    async def RevokeRecognition(self, request: pb.RevokeRecognitionRequest,
                                context: grpc.aio.ServicerContext) -> pb.Case:
        case_id = cv.parse_uuid(request.case_id, "case_id")
        decision = cv.decision_from_pb(request.decision)
        case = await self._run(self.app.revoke, case_id, decision, request.reason, request_actor(request),
                               cv.parse_date(request.effective_date, "effective_date"))
        return cv.case_to_pb(case)

    @requires(j.CASE_WRITE)
    @map_domain_errors
    async def CloseCase(self, request: pb.CloseCaseRequest, context: grpc.aio.ServicerContext) -> pb.Case:
        case_id = cv.parse_uuid(request.case_id, "case_id")
        reason = parse_enum(ClosureReason, request.reason, "reason", "Lý do đóng hồ sơ")
        case = await self._run(self.app.close_case, case_id, reason, request.note, request_actor(request),
                               cv.parse_date(request.effective_date, "effective_date"))
        return cv.case_to_pb(case)

    # -- classification and exemplary -----------------------------------------------------------
    @requires(j.UNIT_WRITE)
    @map_domain_errors
    async def ProposeClassification(self, request: pb.ProposeClassificationRequest,
                                    context: grpc.aio.ServicerContext) -> pb.Classification:
        unit_id = cv.parse_uuid(request.unit_id, "unit_id")
        c = await self._run(self.app.propose_classification, unit_id, cv.parse_year(request.year),
                            cv.items_from_pb(request.items), request_actor(request),
                            cv.parse_date(request.effective_date, "effective_date"))
        return self._classification_pb(c)

    @requires(j.CLASSIFICATION_WRITE)
    @map_domain_errors
    async def DecideClassification(self, request: pb.DecideClassificationRequest,
                                   context: grpc.aio.ServicerContext) -> pb.Classification:
        cid = cv.parse_uuid(request.classification_id, "classification_id")
        items = cv.items_from_pb(request.items) or None
        c = await self._run(self.app.classify, cid, cv.decision_from_pb(request.decision),
                            request_actor(request), items)
        return self._classification_pb(c)

    @requires(j.CLASSIFICATION_WRITE)
    @map_domain_errors
    async def Reclassify(self, request: pb.ReclassifyRequest, context: grpc.aio.ServicerContext
                         ) -> pb.Classification:
        cid = cv.parse_uuid(request.classification_id, "classification_id")
        c = await self._run(self.app.reclassify, cid, cv.items_from_pb(request.items), request.reason,
                            cv.decision_from_pb(request.decision), request_actor(request),
                            cv.parse_date(request.effective_date, "effective_date"))
        return self._classification_pb(c)

    @requires(j.UNIT_WRITE)
    @map_domain_errors
    async def DesignateExemplary(self, request: pb.DesignateExemplaryRequest,
                                 context: grpc.aio.ServicerContext) -> pb.ExemplaryDesignation:
        unit_id = cv.parse_uuid(request.unit_id, "unit_id")
        d = await self._run(self.app.designate_exemplary, unit_id, cv.parse_year(request.year),
                            request.criteria_set_id, request.criteria_met, cv.decision_from_pb(request.decision),
                            request_actor(request))
        return cv.designation_to_pb(d)

    @requires(j.DESIGNATION_WRITE)
    @map_domain_errors
    async def WithdrawExemplary(self, request: pb.WithdrawExemplaryRequest,
                                context: grpc.aio.ServicerContext) -> pb.ExemplaryDesignation:
        did = cv.parse_uuid(request.designation_id, "designation_id")
        d = await self._run(self.app.withdraw_exemplary, did, cv.decision_from_pb(request.decision), request.reason,
                            request_actor(request))
        return cv.designation_to_pb(d)

    # -- queries --------------------------------------------------------------------------------
    def _aggregate_id(self, given: str, field: str, unit_id: str, year: int, kind: Any) -> Any:
        if given:
            return cv.parse_uuid(given, field)
        if not unit_id:
            raise InvalidArgumentError(f"Cần {field} hoặc unit_id và year", f"{field} or unit_id and year is required",
                                       field=field)
        return kind.create_id(cv.parse_uuid(unit_id, "unit_id"), cv.parse_year(year))

    @requires(j.CASE_READ)
    @map_domain_errors
    async def GetCase(self, request: pb.GetCaseRequest, context: grpc.aio.ServicerContext) -> pb.Case:
        case_id = self._aggregate_id(request.case_id, "case_id", request.unit_id, request.year, AssessmentCase)
        if request.as_of:
            case = await self._run(self.app.case_at, case_id, cv.parse_time(request.as_of, "as_of"))
            if not isinstance(case, AssessmentCase):
                raise CaseNotFoundError(str(case_id))
            return cv.case_to_pb(case)
        return cv.case_to_pb(await self._run(self.app.get_case, case_id))

    @requires(j.CLASSIFICATION_READ)
    @map_domain_errors
    async def GetClassification(self, request: pb.GetClassificationRequest,
                                context: grpc.aio.ServicerContext) -> pb.Classification:
        cid = self._aggregate_id(request.classification_id, "classification_id", request.unit_id, request.year,
                                 Classification)
        if request.as_of:
            c = await self._run(self.app.as_of, cid, cv.parse_time(request.as_of, "as_of"))
            if not isinstance(c, Classification):
                raise CaseNotFoundError(str(cid))
        else:
            c = await self._run(self.app.get_classification, cid)
        return self._classification_pb(c)

    @requires(j.LIST_READ)
    @map_domain_errors
    async def ListCases(self, request: pb.ListCasesRequest, context: grpc.aio.ServicerContext
                        ) -> pb.ListCasesResponse:
        year = cv.parse_year(request.year)
        state = cv.parse_state(request.state)
        size = page_size(request.page_size, 100, 1000)
        start = decode_page_index(request.page_token)
        page = await self._run(case_queries.list_cases, self.app, year, request.province_code, request.commune_code,
                               state, start, size)
        reply = pb.ListCasesResponse(cases=[cv.case_to_pb(c) for c in page.cases])
        if page.next_index is not None:
            reply.next_page_token = encode_page_token(page.next_index)
        return reply

    @requires(j.HISTORY_READ)
    @map_domain_errors
    async def GetHistory(self, request: pb.GetHistoryRequest, context: grpc.aio.ServicerContext
                         ) -> pb.GetHistoryResponse:
        aggregate_id = cv.parse_uuid(request.aggregate_id, "aggregate_id")
        items = await self._run(case_queries.history, self.app, aggregate_id)
        if not items:
            raise NotFoundError(f"Không có sự kiện nào của {aggregate_id}", f"no events for {aggregate_id}",
                                field="aggregate_id", reason="CASE_NOT_FOUND")
        reply = pb.GetHistoryResponse(aggregate_id=str(aggregate_id))
        for item in items:
            event = reply.events.add(version=item.version, event_type=item.event_type, recorded_at=item.recorded_at,
                                     effective_date=item.effective_date, digest=item.digest,
                                     prev_digest=item.prev_digest)
            if item.actor is not None:
                event.actor.CopyFrom(actor_pb(item.actor))
            if item.payload is not None:
                packed = any_pb2.Any()
                packed.Pack(item.payload)
                event.payload.CopyFrom(packed)
        return reply

    @requires(j.CASE_EXPLAIN)
    @map_domain_errors
    async def ExplainCase(self, request: pb.ExplainCaseRequest, context: grpc.aio.ServicerContext
                          ) -> pb.Explanation:
        case_id = cv.parse_uuid(request.case_id, "case_id")
        return cv.explanation_to_pb(await self._run(self.app.explain, case_id))

    @requires(j.COMMUNE_READ)
    @map_domain_errors
    async def GetCommuneCoverage(self, request: pb.GetCommuneCoverageRequest,
                                 context: grpc.aio.ServicerContext) -> pb.CommuneCoverage:
        if not request.commune_code:
            raise InvalidArgumentError("Thiếu mã xã", "commune_code is required", field="commune_code")
        year = cv.parse_year(request.year)
        figures = await self._run(self.app.commune_coverage, request.commune_code, year)
        return pb.CommuneCoverage(commune_code=request.commune_code, year=year,
                                  coverage=cv.coverage_pb(figures), registered_pct=figures.registered_pct,
                                  recognised_pct=figures.recognised_pct)


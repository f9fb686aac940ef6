"""Assessment over real gRPC with the registry and a real nats-server: replica, commands, errors, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import grpc
import nats
import pytest

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.contracts import envelope, types
from antt.events.v1 import assessment_pb2 as events_pb
from antt.grpcx.errors import error_info
from antt.registry.v1 import registry_service_pb2 as reg_pb
from antt.registry.v1 import registry_service_pb2_grpc as reg_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.auth import AuthKit
from antt.testing.wait import async_wait_until
from services.assessment.main import build as build_assessment
from services.assessment.rules import UnitType, load_catalogue
from services.registry.main import build as build_registry
from tests.unit.assessment.grpc_builders import COMMUNE, OPERATOR, PROVINCE, decision, evidence, results

pytestmark = pytest.mark.integration

YEAR = 2026
RULES = load_catalogue().for_year(YEAR)


@dataclass
class Stack:
    """Registry and assessment in this process, with gRPC stubs."""

    registry: reg_grpc.RegistryServiceStub
    assessment: pb_grpc.AssessmentServiceStub
    nats_url: str


@pytest.fixture
async def stack(nats_server: NatsServer, database_urls: dict[str, str], auth_kit: AuthKit
                ) -> AsyncIterator[Stack]:
    """Registry and assessment on SQLite files or PostgreSQL databases (the same code, another URL)."""
    env = {"ANTT_NATS_URL": nats_server.url, "ANTT_RELAY_POLL_INTERVAL": "0.05",
           "ANTT_REGISTRY_GRPC_PORT": "0", "ANTT_ASSESSMENT_GRPC_PORT": "0",
           "ANTT_REGISTRY_DATABASE_URL": database_urls["registry"],
           "ANTT_ASSESSMENT_DATABASE_URL": database_urls["assessment"], **auth_kit.env}
    services: list[Service] = [build_registry(ServiceSettings.from_env("registry", env)),
                               build_assessment(ServiceSettings.from_env("assessment", env))]
    for s in services:
        await s.start(Roles(metrics=False))
    async with auth_kit.aio_channel(f"127.0.0.1:{services[0].grpc_port}") as reg_ch, \
            auth_kit.aio_channel(f"127.0.0.1:{services[1].grpc_port}") as ass_ch:
        yield Stack(reg_grpc.RegistryServiceStub(reg_ch), pb_grpc.AssessmentServiceStub(ass_ch), nats_server.url)
    for s in reversed(services):
        await s.stop()


async def register_unit(stack: Stack, code: str, unit_type: str, **facts: object) -> str:
    """Register a unit in the registry and wait until assessment's replica has it."""
    reply = await stack.registry.RegisterUnit(reg_pb.RegisterUnitRequest(
        code=code, name=f"Đơn vị {code}", unit_type=unit_type, province_code=PROVINCE, commune_code=COMMUNE,
        effective_date="2025-10-01", actor=OPERATOR, facts=reg_pb.EligibilityFacts(**facts) if facts else None))

    unit = await stack.registry.GetUnit(reg_pb.GetUnitRequest(unit_id=reply.unit_id))

    async def replicated() -> bool:
        try:
            got = await stack.assessment.GetReplicatedUnit(pb.GetReplicatedUnitRequest(unit_id=reply.unit_id))
        except grpc.aio.AioRpcError:
            return False
        return got.eligibility_reason == unit.eligibility.reason_code
    await async_wait_until(replicated, timeout=30, message=f"{code} in the assessment replica")
    return str(reply.unit_id)


async def failure(call: object) -> tuple[grpc.StatusCode, str]:
    """Status code and reason of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call  # type: ignore[misc]
    info = error_info(exc.value)
    assert info is not None and info.metadata["vi"] and info.metadata["en"]
    return exc.value.code(), info.reason


async def test_a_case_through_grpc_with_clear_errors_and_published_events(stack: Stack) -> None:
    village = await register_unit(stack, "KDC-TEST-01", "khu_dan_cu")
    small = await register_unit(stack, "DN-NHO-01", "doanh_nghiep", size_class="nho", size_declared_on="2025-01-01")
    replica = await stack.assessment.GetReplicatedUnit(pb.GetReplicatedUnitRequest(unit_id=small))
    assert not replica.eligible and replica.eligibility_reason == "OUT_OF_SCOPE_SMALL_ENTERPRISE"
    assert (await stack.assessment.CountReplicatedUnits(pb.CountReplicatedUnitsRequest())).units == 2

    # bad input: an ineligible unit, an unknown unit, a bad digest
    reg = pb.RegisterCaseRequest(unit_id=small, year=YEAR, dossier=[evidence("REG-FORM", "dk")],
                                 effective_date="2026-01-15", actor=OPERATOR)
    assert await failure(stack.assessment.RegisterCase(reg)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                 "UNIT_NOT_ELIGIBLE")
    reg.unit_id = "8d5c1a0e-0000-4000-8000-000000000000"
    assert await failure(stack.assessment.RegisterCase(reg)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                 "UNIT_NOT_IN_REPLICA")
    reg.unit_id = village
    reg.dossier[0].sha256 = "abc"
    assert await failure(stack.assessment.RegisterCase(reg)) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                                 "INVALID_EVIDENCE_DIGEST")
    reg.dossier[0].CopyFrom(evidence("REG-FORM", "dk"))
    case = await stack.assessment.RegisterCase(reg)
    assert (case.state, case.rule_set_id, case.unit_code) == ("dang_ky", RULES.id, "KDC-TEST-01")
    assert await failure(stack.assessment.RegisterCase(reg)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                 "SECOND_CASE_FOR_YEAR")
    # a step out of order writes nothing
    submit = pb.SubmitCaseRequest(case_id=case.case_id, dossier=[evidence("REC-REQUEST", "dn")],
                                  effective_date="2026-10-05", actor=OPERATOR)
    assert await failure(stack.assessment.SubmitCase(submit)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                  "STEP_OUT_OF_ORDER")
    await stack.assessment.RecordSelfAssessment(pb.RecordSelfAssessmentRequest(
        case_id=case.case_id, results=results(RULES, UnitType.KHU_DAN_CU), effective_date="2026-10-01",
        actor=OPERATOR))
    await stack.assessment.SubmitCase(submit)
    appraised = await stack.assessment.AppraiseCase(pb.AppraiseCaseRequest(
        case_id=case.case_id, effective_date="2026-10-20", actor=OPERATOR))
    assert appraised.state == "da_tham_dinh"
    # a decision without a number, or by the province for a khu dân cư, is refused and writes nothing
    decide = pb.DecideCasesRequest(cases=[pb.CaseOutcome(case_id=case.case_id, recognised=True)],
                                   decision=decision("", date(YEAR, 11, 10)), actor=OPERATOR)
    assert await failure(stack.assessment.DecideCases(decide)) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                                   "MISSING_DECISION_NUMBER")
    decide.decision.CopyFrom(decision("15/QĐ-UBND", date(YEAR, 11, 10), tier="tinh"))
    assert await failure(stack.assessment.DecideCases(decide)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                   "WRONG_AUTHORITY")
    decide.cases[0].assessment_digest = "0" * 64
    decide.decision.CopyFrom(decision("15/QĐ-UBND", date(YEAR, 11, 10)))
    assert await failure(stack.assessment.DecideCases(decide)) == (grpc.StatusCode.FAILED_PRECONDITION,
                                                                   "STALE_ASSESSMENT")
    history = await stack.assessment.GetHistory(pb.GetHistoryRequest(aggregate_id=case.case_id))
    assert [e.event_type for e in history.events] == [
        "CaseRegistered", "SelfAssessmentRecorded", "CaseSubmitted", "CaseAppraised"]
    decide.cases[0].assessment_digest = appraised.assessment_digest
    decided = await stack.assessment.DecideCases(decide)
    assert decided.cases[0].state == "cong_nhan" and decided.cases[0].decision.number == "15/QĐ-UBND"

    # queries: by (unit, year), as of a recorded time, by area and state, with clear errors on bad input
    by_unit = await stack.assessment.GetCase(pb.GetCaseRequest(unit_id=village, year=YEAR))
    assert (by_unit.case_id, by_unit.state, by_unit.decision.authority.tier) == (case.case_id, "cong_nhan", "xa")
    submitted_at = history.events[2].recorded_at
    then = await stack.assessment.GetCase(pb.GetCaseRequest(case_id=case.case_id, as_of=submitted_at))
    assert (then.state, then.version) == ("da_nop", 3)
    assert await failure(stack.assessment.GetCase(pb.GetCaseRequest(case_id=case.case_id, as_of="hôm qua"))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    listed = await stack.assessment.ListCases(pb.ListCasesRequest(province_code=PROVINCE, year=YEAR,
                                                                  state="cong_nhan"))
    assert [c.unit_code for c in listed.cases] == ["KDC-TEST-01"] and not listed.next_page_token
    assert await failure(stack.assessment.ListCases(pb.ListCasesRequest(year=YEAR, state="xong"))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert await failure(stack.assessment.ListCases(pb.ListCasesRequest(year=YEAR, page_token="???"))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    coverage = await stack.assessment.GetCommuneCoverage(pb.GetCommuneCoverageRequest(commune_code=COMMUNE,
                                                                                      year=YEAR))
    assert (coverage.coverage.managed, coverage.coverage.registered, coverage.coverage.recognised) == (1, 1, 1)

    # the published events reach the stream, on subjects naming the unit's province and commune
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"antt.assessment.v1.*.{PROVINCE}.{COMMUNE}", durable=None)

        msgs: list[object] = []

        async def five() -> bool:
            try:
                msgs.extend(await sub.fetch(5 - len(msgs), timeout=1))
            except Exception:
                pass
            return len(msgs) >= 5
        await async_wait_until(five, timeout=30, message="assessment events on the stream")
        env = [envelope.from_headers(m.headers) for m in msgs]  # type: ignore[attr-defined]
        assert [types.event_name(e.type) for e in env] == [
            "CaseRegistered", "SelfAssessmentRecorded", "CaseSubmitted", "CaseAppraised", "CaseDecided"]
        last = types.decode(env[-1].type, msgs[-1].data)  # type: ignore[attr-defined]
        assert isinstance(last, events_pb.CaseDecided) and last.recognised and last.unit_code == "KDC-TEST-01"
    finally:
        await nc.close()


async def test_lists_of_registrations_and_an_appraisal_session_answer_per_item(stack: Stack) -> None:
    villages = [await register_unit(stack, f"KDC-LIST-{i}", "khu_dan_cu") for i in range(3)]
    small = await register_unit(stack, "DN-NHO-LIST", "doanh_nghiep", size_class="nho",
                                size_declared_on="2025-01-01")
    single = await stack.assessment.RegisterCase(pb.RegisterCaseRequest(
        unit_id=villages[2], year=YEAR, dossier=[evidence("REG-FORM", "dk-2")], effective_date="2026-01-15",
        actor=OPERATOR))
    registered_only = single.case_id

    def registration(unit_id: str, name: str) -> pb.CaseRegistration:
        return pb.CaseRegistration(unit_id=unit_id, year=YEAR, dossier=[evidence("REG-FORM", name)],
                                   effective_date="2026-01-15")
    listed = await stack.assessment.RegisterCases(pb.RegisterCasesRequest(registrations=[
        registration(villages[0], "dk-0"), registration(small, "dk-nho"), registration(villages[1], "dk-1"),
        registration(villages[2], "dk-2"), registration("khong-phai-uuid", "dk-x")], actor=OPERATOR))
    kinds = [r.WhichOneof("result") for r in listed.results]
    assert kinds == ["case", "error", "case", "error", "error"]
    assert [(r.error.code, r.error.reason) for r in listed.results if r.HasField("error")] == [
        ("FAILED_PRECONDITION", "UNIT_NOT_ELIGIBLE"), ("FAILED_PRECONDITION", "SECOND_CASE_FOR_YEAR"),
        ("INVALID_ARGUMENT", "INVALID_ARGUMENT")]
    assert listed.results[4].error.field == "registrations[4].unit_id" and listed.results[1].error.message_vi
    first, second = listed.results[0].case, listed.results[2].case
    assert (first.state, first.unit_code, second.unit_code) == ("dang_ky", "KDC-LIST-0", "KDC-LIST-1")
    # the case of a list is the case the single command makes (ids and times aside)
    same = pb.Case()
    same.CopyFrom(first)
    for f in ("case_id", "unit_id", "unit_code", "last_recorded_at"):
        same.ClearField(f)
        single.ClearField(f)
    same.ClearField("registration_dossier")
    single.ClearField("registration_dossier")
    assert same == single
    # a unit named twice, or an empty list, is a bad request: nothing is written
    assert await failure(stack.assessment.RegisterCases(pb.RegisterCasesRequest(
        registrations=[registration(small, "a"), registration(small, "b")]))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert await failure(stack.assessment.RegisterCases(pb.RegisterCasesRequest())) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")

    for case in (first, second):
        await stack.assessment.RecordSelfAssessment(pb.RecordSelfAssessmentRequest(
            case_id=case.case_id, results=results(RULES, UnitType.KHU_DAN_CU), effective_date="2026-10-01",
            actor=OPERATOR))
        await stack.assessment.SubmitCase(pb.SubmitCaseRequest(
            case_id=case.case_id, dossier=[evidence("REC-REQUEST", case.unit_code)], effective_date="2026-10-05",
            actor=OPERATOR))
    session = await stack.assessment.AppraiseCases(pb.AppraiseCasesRequest(appraisals=[
        pb.CaseAppraisal(case_id=first.case_id, effective_date="2026-10-20"),
        pb.CaseAppraisal(case_id=second.case_id, return_reason="Thiếu biên bản họp", effective_date="2026-10-20"),
        pb.CaseAppraisal(case_id=registered_only, effective_date="2026-10-20")], actor=OPERATOR))
    assert [r.case.state or r.error.reason for r in session.results] == [
        "da_tham_dinh", "tu_danh_gia", "STEP_OUT_OF_ORDER"]
    assert session.results[1].case.return_reason == "Thiếu biên bản họp"
    assert await failure(stack.assessment.AppraiseCases(pb.AppraiseCasesRequest(appraisals=[
        pb.CaseAppraisal(case_id=first.case_id), pb.CaseAppraisal(case_id=first.case_id)]))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    # each case records the events the single commands record
    history = [e.event_type for e in (await stack.assessment.GetHistory(
        pb.GetHistoryRequest(aggregate_id=first.case_id))).events]
    assert history == ["CaseRegistered", "SelfAssessmentRecorded", "CaseSubmitted", "CaseAppraised"]
    returned = [e.event_type for e in (await stack.assessment.GetHistory(
        pb.GetHistoryRequest(aggregate_id=second.case_id))).events]
    assert returned[-1] == "CaseReturnedForCompletion"

"""Authorisation matrix: roles × tiers × jurisdictions × every public gRPC method of the four services.

The four services run in this process on a real nats-server with tokens required. A table names,
for every RPC, how to prepare data (so an allowed call can succeed), how to build a valid request,
and what each caller gets: allowed calls succeed; every other call is PERMISSION_DENIED with the
expected reason code and leaves every event store unchanged. The table must cover each service
descriptor, so a new RPC without a row fails here.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from antt.assessment.v1 import assessment_service_pb2 as ass_pb
from antt.assessment.v1 import assessment_service_pb2_grpc as ass_grpc
from antt.auth import client
from antt.auth.authz import undeclared
from antt.events.v1 import assessment_pb2 as events_pb
from antt.grpcx.errors import error_info
from antt.notifications.v1 import notifications_service_pb2 as not_pb
from antt.notifications.v1 import notifications_service_pb2_grpc as not_grpc
from antt.registry.v1 import registry_service_pb2 as reg_pb
from antt.registry.v1 import registry_service_pb2_grpc as reg_grpc
from antt.reporting.v1 import reporting_service_pb2 as rep_pb
from antt.reporting.v1 import reporting_service_pb2_grpc as rep_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.auth import AuthKit
from antt.testing.wait import async_wait_until
from services.assessment.api.servicer import AssessmentServicer
from services.assessment.main import build as build_assessment
from services.assessment.rules import UnitType, load_catalogue
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.main import build as build_notifications
from services.registry.api.servicer import RegistryServicer
from services.registry.main import build as build_registry
from services.reporting.api.servicer import ReportingServicer
from services.reporting.main import build as build_reporting
from tests.unit.assessment.grpc_builders import results

pytestmark = pytest.mark.integration
IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the services are shared by the module

YEAR = 2026
RULES = load_catalogue().for_year(YEAR)
PROVINCE, COMMUNE, OTHER_COMMUNE = "31", "11948", "11560"  # Bạch Long Vĩ and Kiến Thụy, Hải Phòng
UNIT_A = "KDC-AUTHZ-A"                                    # in commune 11948
UNIT_B = ("KDC-AUTHZ-B", "01", "00145")                    # Phường Long Biên, Hà Nội
TEST_PROVINCES = ("98", "97")  # synthetic provinces for the area commands
POOL_KDC, POOL_CQ = 85, 18

DESCRIPTORS = {
    "registry": reg_pb.DESCRIPTOR.services_by_name["RegistryService"],
    "assessment": ass_pb.DESCRIPTOR.services_by_name["AssessmentService"],
    "notifications": not_pb.DESCRIPTOR.services_by_name["NotificationsService"],
    "reporting": rep_pb.DESCRIPTOR.services_by_name["ReportingService"],
}
SERVICERS = {"registry": RegistryServicer, "assessment": AssessmentServicer,
             "notifications": NotificationsServicer, "reporting": ReportingServicer}


@pytest.mark.parametrize("service", list(DESCRIPTORS))
def test_every_public_method_declares_a_permission(service: str) -> None:
    assert DESCRIPTORS[service].methods and undeclared(SERVICERS[service], DESCRIPTORS[service]) == []


# -- who calls --------------------------------------------------------------------------------------------
OWN = "<own>"  # the unit representative of whichever unit the row acts on (a unit of commune 11948)


@dataclass(frozen=True)
class Caller:
    """One principal of the matrix."""

    name: str
    role: str
    tier: str
    jurisdiction: str = ""
    unit: str = ""


CALLERS = [
    Caller("ministry", "ministry_operator", "bo"),
    Caller("province-31", "province_operator", "tinh", PROVINCE),
    Caller("province-01", "province_operator", "tinh", "01"),
    Caller("commune-11948", "commune_operator", "xa", COMMUNE),
    Caller("commune-11560", "commune_operator", "xa", OTHER_COMMUNE),  # another commune of province 31
    Caller("unit-own", "unit_representative", "don_vi", COMMUNE, OWN),
    Caller("unit-b", "unit_representative", "don_vi", UNIT_B[2], UNIT_B[0]),
    Caller("auditor-bo", "auditor", "bo"),
    Caller("auditor-31", "auditor", "tinh", PROVINCE),
    Caller("auditor-01", "auditor", "tinh", "01"),
    Caller("auditor-11560", "auditor", "xa", OTHER_COMMUNE),
    Caller("agency", "agency_subscriber", "bo"),
    Caller("service", "service", "bo"),
]

# -- what each caller gets: None = allowed, else the reason code of the PERMISSION_DENIED -----------------
OUT, NOT_OWN, RO, ROLE = "AUTH_OUT_OF_JURISDICTION", "AUTH_NOT_OWN_UNIT", "AUTH_READ_ONLY", "AUTH_ROLE_NOT_ALLOWED"
Outcomes = dict[str, str | None]
# A write on a unit of commune 11948 that its own representative may also make.
UNIT_SELF_WRITE: Outcomes = {
    "ministry": None, "province-31": None, "province-01": OUT, "commune-11948": None, "commune-11560": OUT,
    "unit-own": None, "unit-b": NOT_OWN, "auditor-bo": RO, "auditor-31": RO, "auditor-01": RO,
    "auditor-11560": RO, "agency": ROLE, "service": None}
UNIT_WRITE: Outcomes = {**UNIT_SELF_WRITE, "unit-own": ROLE, "unit-b": ROLE}  # operators only
MOVE_WITHIN_PROVINCE: Outcomes = {**UNIT_WRITE, "commune-11948": OUT}  # both ends must be within reach
UNIT_SELF_READ: Outcomes = {**UNIT_SELF_WRITE, "auditor-bo": None, "auditor-31": None, "auditor-01": OUT,
                            "auditor-11560": OUT}
AREA_READ: Outcomes = {**UNIT_SELF_READ, "unit-own": ROLE, "unit-b": ROLE}  # commune 11948's data
PROVINCE_READ: Outcomes = {**AREA_READ, "commune-11948": OUT}  # province 31's data
NATIONAL_READ: Outcomes = {
    "ministry": None, "province-31": OUT, "province-01": OUT, "commune-11948": OUT, "commune-11560": OUT,
    "unit-own": ROLE, "unit-b": ROLE, "auditor-bo": None, "auditor-31": OUT, "auditor-01": OUT,
    "auditor-11560": OUT, "agency": ROLE, "service": None}
PUBLIC_READ: Outcomes = {c.name: None for c in CALLERS} | {"unit-own": ROLE, "unit-b": ROLE, "agency": ROLE}
MINISTRY_WRITE: Outcomes = {c.name: ROLE for c in CALLERS} | {
    "ministry": None, "service": None, "auditor-bo": RO, "auditor-31": RO, "auditor-01": RO, "auditor-11560": RO}


# -- the running services and the data the rows act on ----------------------------------------------------
@dataclass
class World:
    """Stubs (calling with the service token unless told otherwise), tokens, fixed data and pools of units."""

    registry: reg_grpc.RegistryServiceStub
    assessment: ass_grpc.AssessmentServiceStub
    notifications: not_grpc.NotificationsServiceStub
    reporting: rep_grpc.ReportingServiceStub
    kit: AuthKit
    services: list[Service]
    unit_a: Target = None  # type: ignore[assignment]
    kdc: Iterator[Target] = iter(())
    cq: Iterator[Target] = iter(())
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def token(self, caller: Caller, target: Target) -> client.Metadata:
        """The caller's token; the unit representative "unit-own" represents the target's unit."""
        unit = (target.unit_code or UNIT_A) if caller.unit == OWN else caller.unit
        return client.bearer_metadata(self.kit.token(caller.role, caller.tier, caller.jurisdiction, unit,
                                                     subject=f"user:{caller.name}"))

    def stored(self) -> tuple[int, ...]:
        """The last notification id of every event store: unchanged means nothing was written."""
        return tuple(s.parts.app.recorder.max_notification_id() or 0 for s in self.services
                     if s.parts.app is not None)


@dataclass
class Target:
    """What a row acts on: a unit and, as the row needs them, its case, classification, designation or areas."""

    unit_id: str = ""
    unit_code: str = ""
    case_id: str = ""
    classification_id: str = ""
    designation_id: str = ""
    areas: tuple[str, ...] = ()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def doc(kind: str, name: str) -> events_pb.AssessmentEvidence:
    return events_pb.AssessmentEvidence(kind=kind, uri=f"s3://ho-so/{name}.pdf", sha256=sha(name), title=name)


def decision(number: str, on: str, tier: str = "xa") -> ass_pb.Decision:
    """A decision of commune 11948 (default) or of province 31."""
    authority = (ass_pb.Authority(tier="xa", name="UBND đặc khu Bạch Long Vĩ", area_code=COMMUNE) if tier == "xa"
                 else ass_pb.Authority(tier="tinh", name="UBND thành phố Hải Phòng", area_code=PROVINCE))
    return ass_pb.Decision(number=number, date=on, signer="Nguyễn Văn An", signer_title="Chủ tịch",
                           authority=authority)


def points(**items: float) -> list[events_pb.AssessmentScoringItem]:
    return [events_pb.AssessmentScoringItem(item=k.removeprefix("i"), points=v) for k, v in items.items()]


async def register(w: World, code: str, unit_type: str, province: str = PROVINCE, commune: str = COMMUNE) -> Target:
    reply = await w.registry.RegisterUnit(reg_pb.RegisterUnitRequest(
        code=code, name=f"Đơn vị {code}", unit_type=unit_type, province_code=province, commune_code=commune,
        effective_date=f"{YEAR - 1}-10-01"))
    return Target(unit_id=reply.unit_id, unit_code=code)


# Set-ups (as the service account): each returns a fresh Target in the state the row needs.
async def a_unit(w: World) -> Target:
    return next(w.kdc)


async def registered(w: World, t: Target | None = None) -> Target:
    t = t or next(w.kdc)
    case = await w.assessment.RegisterCase(ass_pb.RegisterCaseRequest(
        unit_id=t.unit_id, year=YEAR, dossier=[doc("REG-FORM", f"dk-{t.unit_code}")],
        effective_date=f"{YEAR}-01-15"))
    return Target(t.unit_id, t.unit_code, case_id=case.case_id)


async def self_assessed(w: World, t: Target | None = None) -> Target:
    t = await registered(w, t)
    await w.assessment.RecordSelfAssessment(self_assessment(w, t))
    return t


async def submitted(w: World, t: Target | None = None) -> Target:
    t = await self_assessed(w, t)
    await w.assessment.SubmitCase(submission(w, t))
    return t


async def appraised(w: World, t: Target | None = None) -> Target:
    t = await submitted(w, t)
    await w.assessment.AppraiseCase(appraisal(w, t))
    return t


async def recognised(w: World, t: Target | None = None) -> Target:
    t = await appraised(w, t)
    await w.assessment.DecideCases(decide(w, t))
    return t


async def classified(w: World, t: Target | None = None) -> Target:
    t = t or next(w.kdc)
    c = await w.assessment.ProposeClassification(proposal(w, t))
    return Target(t.unit_id, t.unit_code, classification_id=c.classification_id)


async def classification_decided(w: World, t: Target | None = None) -> Target:
    t = await classified(w, t)
    await w.assessment.DecideClassification(classification_decision(w, t))
    return t


async def an_agency(w: World) -> Target:
    return next(w.cq)


async def designated(w: World) -> Target:
    t = next(w.cq)
    d = await w.assessment.DesignateExemplary(designation(w, t))
    return Target(t.unit_id, t.unit_code, designation_id=d.designation_id)


def new_commune_code(w: World) -> str:
    return f"98{next(w.seq):03d}"


async def communes(w: World, count: int = 1) -> Target:
    codes = []
    for _ in range(count):
        code = new_commune_code(w)
        await w.registry.CreateArea(create_area(code))
        codes.append(code)
    return Target(areas=tuple(codes))


async def two_communes(w: World) -> Target:
    return await communes(w, 2)


async def unit_a(w: World) -> Target:
    return w.unit_a


async def nothing(w: World) -> Target:
    return Target()


# Request builders: (world, target) -> request.
SYNTHETIC = "dữ liệu thử / synthetic test data"


def create_area(code: str, parent: str = TEST_PROVINCES[0]) -> reg_pb.CreateAreaRequest:
    return reg_pb.CreateAreaRequest(level="commune", code=code, name=f"Xã Thử {code}", kind="xa", parent_code=parent,
                                    parent_level="province", effective_date="2025-07-01", legal_basis=SYNTHETIC)


def self_assessment(w: World, t: Target) -> ass_pb.RecordSelfAssessmentRequest:
    return ass_pb.RecordSelfAssessmentRequest(case_id=t.case_id, results=results(RULES, UnitType.KHU_DAN_CU),
                                              effective_date=f"{YEAR}-10-01")


def submission(w: World, t: Target) -> ass_pb.SubmitCaseRequest:
    return ass_pb.SubmitCaseRequest(case_id=t.case_id, dossier=[doc("REC-REQUEST", f"de-nghi-{t.unit_code}")],
                                    effective_date=f"{YEAR}-10-05")


def appraisal(w: World, t: Target) -> ass_pb.AppraiseCaseRequest:
    return ass_pb.AppraiseCaseRequest(case_id=t.case_id, effective_date=f"{YEAR}-10-20")


def decide(w: World, t: Target) -> ass_pb.DecideCasesRequest:
    return ass_pb.DecideCasesRequest(cases=[ass_pb.CaseOutcome(case_id=t.case_id, recognised=True)],
                                     decision=decision(f"{next(w.seq)}/QĐ-UBND", f"{YEAR}-11-10"))


def proposal(w: World, t: Target) -> ass_pb.ProposeClassificationRequest:
    return ass_pb.ProposeClassificationRequest(unit_id=t.unit_id, year=YEAR, items=points(i1=40, i2=52),
                                               effective_date=f"{YEAR}-11-05")


def classification_decision(w: World, t: Target) -> ass_pb.DecideClassificationRequest:
    return ass_pb.DecideClassificationRequest(classification_id=t.classification_id,
                                              decision=decision(f"{next(w.seq)}/QĐ-UBND", f"{YEAR}-11-18"))


def designation(w: World, t: Target) -> ass_pb.DesignateExemplaryRequest:
    return ass_pb.DesignateExemplaryRequest(unit_id=t.unit_id, year=YEAR, criteria_set_id="qd9745-cqdn",
                                            criteria_met=10,
                                            decision=decision(f"{next(w.seq)}/QĐ-UBND", f"{YEAR}-11-15", "tinh"))


def import_units(w: World, t: Target) -> Iterator[reg_pb.ImportUnitsRequest]:
    n = next(w.seq)
    yield reg_pb.ImportUnitsRequest(source_name="matrix.csv", total_rows=1, rows=[reg_pb.ImportRow(
        row_number=2, code=f"KDC-IMP-{n}", name=f"Tổ nhập {n}", unit_type="khu_dan_cu", province_code=PROVINCE,
        commune_code=COMMUNE, effective_date=f"{YEAR - 1}-10-01")])


def import_areas(w: World, t: Target) -> Iterator[reg_pb.ImportAreasRequest]:
    code = new_commune_code(w)
    yield reg_pb.ImportAreasRequest(source_name="areas.csv", total_rows=1, rows=[reg_pb.ImportAreaRow(
        row_number=2, level="commune", code=code, name=f"Xã Nhập {code}", kind="xa", parent_code=TEST_PROVINCES[0],
        parent_level="province", effective_date="2025-07-01", legal_basis=SYNTHETIC)])


def query(scope: str) -> rep_pb.ReportQuery:
    return rep_pb.ReportQuery(year=YEAR, scope=scope)


@dataclass(frozen=True)
class Row:
    """One RPC: data set-up, request, what each caller gets; `consumes`: an allowed call uses the set-up up."""

    service: str
    method: str
    outcomes: Outcomes
    request: Callable[[World, Target], Any]
    setup: Callable[[World], Awaitable[Target]] = nothing
    consumes: bool = False


R, A, N, P = "registry", "assessment", "notifications", "reporting"
TABLE: list[Row] = [
    # registry: units
    Row(R, "RegisterUnit", UNIT_WRITE, lambda w, t: reg_pb.RegisterUnitRequest(
        code=f"KDC-NEW-{next(w.seq)}", name="Tổ mới", unit_type="khu_dan_cu", province_code=PROVINCE,
        commune_code=COMMUNE, effective_date=f"{YEAR - 1}-10-01")),
    Row(R, "GetUnit", UNIT_SELF_READ, lambda w, t: reg_pb.GetUnitRequest(unit_id=t.unit_id), unit_a),
    Row(R, "UpdateUnit", UNIT_SELF_WRITE, lambda w, t: reg_pb.UpdateUnitRequest(
        unit_id=t.unit_id, contact_email=f"lien-he-{next(w.seq)}@example.vn"), unit_a),
    Row(R, "DeclareEligibilityFacts", UNIT_SELF_WRITE, lambda w, t: reg_pb.DeclareEligibilityFactsRequest(
        unit_id=t.unit_id, facts=reg_pb.EligibilityFacts(armed_forces=False), effective_date=f"{YEAR}-01-20"),
        an_agency, consumes=True),
    Row(R, "MoveUnit", MOVE_WITHIN_PROVINCE, lambda w, t: reg_pb.MoveUnitRequest(
        unit_id=t.unit_id, province_code=PROVINCE, commune_code=OTHER_COMMUNE, effective_date=f"{YEAR}-02-01"),
        a_unit, consumes=True),
    Row(R, "CloseUnit", UNIT_WRITE, lambda w, t: reg_pb.CloseUnitRequest(
        unit_id=t.unit_id, reason="dissolved", effective_date=f"{YEAR}-02-01"), a_unit, consumes=True),
    Row(R, "ListUnits", AREA_READ, lambda w, t: reg_pb.ListUnitsRequest(province_code=PROVINCE, commune_code=COMMUNE)),
    Row(R, "GetUnitHistory", UNIT_SELF_READ, lambda w, t: reg_pb.GetUnitHistoryRequest(unit_id=t.unit_id), unit_a),
    # registry: areas (the ministry's)
    Row(R, "CreateArea", MINISTRY_WRITE, lambda w, t: create_area(new_commune_code(w))),
    Row(R, "RenameArea", MINISTRY_WRITE, lambda w, t: reg_pb.RenameAreaRequest(
        level="commune", code=t.areas[0], name="Xã Đổi Tên", effective_date="2025-08-01", legal_basis=SYNTHETIC),
        communes, consumes=True),
    Row(R, "MergeAreas", MINISTRY_WRITE, lambda w, t: reg_pb.MergeAreasRequest(
        level="commune", source_codes=[t.areas[0]], target_code=t.areas[1], effective_date="2025-08-01",
        legal_basis=SYNTHETIC), two_communes, consumes=True),
    Row(R, "SplitArea", MINISTRY_WRITE, lambda w, t: reg_pb.SplitAreaRequest(
        level="commune", source_code=t.areas[0], continues=True, effective_date="2025-08-01", legal_basis=SYNTHETIC,
        targets=[reg_pb.SplitTarget(code=new_commune_code(w), name="Xã Tách", kind="xa")]), communes, consumes=True),
    Row(R, "ReparentArea", MINISTRY_WRITE, lambda w, t: reg_pb.ReparentAreaRequest(
        level="commune", code=t.areas[0], parent_code=TEST_PROVINCES[1], parent_level="province",
        effective_date="2025-08-01", legal_basis=SYNTHETIC), communes, consumes=True),
    Row(R, "AbolishArea", MINISTRY_WRITE, lambda w, t: reg_pb.AbolishAreaRequest(
        level="commune", code=t.areas[0], effective_date="2025-08-01", legal_basis=SYNTHETIC), communes, consumes=True),
    Row(R, "GetArea", PUBLIC_READ, lambda w, t: reg_pb.GetAreaRequest(level="province", code=TEST_PROVINCES[0])),
    Row(R, "ListAreas", PUBLIC_READ, lambda w, t: reg_pb.ListAreasRequest(level="province")),
    Row(R, "ResolveAreaCode", PUBLIC_READ, lambda w, t: reg_pb.ResolveAreaCodeRequest(
        level="province", code=TEST_PROVINCES[0])),
    Row(R, "ImportUnits", UNIT_WRITE, import_units),
    Row(R, "ImportAreas", MINISTRY_WRITE, import_areas),
    # assessment
    Row(A, "GetReplicatedUnit", UNIT_SELF_READ, lambda w, t: ass_pb.GetReplicatedUnitRequest(unit_id=t.unit_id),
        unit_a),
    Row(A, "CountReplicatedUnits", NATIONAL_READ, lambda w, t: ass_pb.CountReplicatedUnitsRequest()),
    Row(A, "RegisterCase", UNIT_SELF_WRITE, lambda w, t: ass_pb.RegisterCaseRequest(
        unit_id=t.unit_id, year=YEAR, dossier=[doc("REG-FORM", t.unit_code)], effective_date=f"{YEAR}-01-15"),
        a_unit, consumes=True),
    Row(A, "RecordSelfAssessment", UNIT_SELF_WRITE, self_assessment, registered, consumes=True),
    Row(A, "SubmitCase", UNIT_SELF_WRITE, submission, self_assessed, consumes=True),
    Row(A, "AppraiseCase", UNIT_WRITE, appraisal, submitted, consumes=True),
    Row(A, "DecideCases", UNIT_WRITE, decide, appraised, consumes=True),
    Row(A, "RegisterCases", UNIT_SELF_WRITE, lambda w, t: ass_pb.RegisterCasesRequest(registrations=[
        ass_pb.CaseRegistration(unit_id=t.unit_id, year=YEAR, dossier=[doc("REG-FORM", t.unit_code)],
                                effective_date=f"{YEAR}-01-15")]), a_unit, consumes=True),
    Row(A, "AppraiseCases", UNIT_WRITE, lambda w, t: ass_pb.AppraiseCasesRequest(appraisals=[
        ass_pb.CaseAppraisal(case_id=t.case_id, effective_date=f"{YEAR}-10-20")]), submitted, consumes=True),
    Row(A, "RevokeRecognition", UNIT_WRITE, lambda w, t: ass_pb.RevokeRecognitionRequest(
        case_id=t.case_id, decision=decision(f"{next(w.seq)}/QĐ-UBND", f"{YEAR}-11-21"), reason="Che giấu vụ việc",
        effective_date=f"{YEAR}-11-21"), recognised, consumes=True),
    Row(A, "CloseCase", UNIT_WRITE, lambda w, t: ass_pb.CloseCaseRequest(
        case_id=t.case_id, reason="khac", note="Thử", effective_date=f"{YEAR}-03-01"), registered, consumes=True),
    Row(A, "ProposeClassification", UNIT_WRITE, proposal, a_unit, consumes=True),
    Row(A, "DecideClassification", UNIT_WRITE, classification_decision, classified, consumes=True),
    Row(A, "Reclassify", UNIT_WRITE, lambda w, t: ass_pb.ReclassifyRequest(
        classification_id=t.classification_id, items=points(i1=30, i2=35), reason="Phát hiện vụ việc",
        decision=decision(f"{next(w.seq)}/QĐ-UBND", f"{YEAR}-11-20")), classification_decided, consumes=True),
    Row(A, "DesignateExemplary", UNIT_WRITE, designation, an_agency, consumes=True),
    Row(A, "WithdrawExemplary", UNIT_WRITE, lambda w, t: ass_pb.WithdrawExemplaryRequest(
        designation_id=t.designation_id, decision=decision(f"{next(w.seq)}/QĐ-UBND", f"{YEAR}-11-21", "tinh"),
        reason="Vi phạm"), designated, consumes=True),
    Row(A, "GetCase", UNIT_SELF_READ, lambda w, t: ass_pb.GetCaseRequest(case_id=t.case_id), unit_a),
    Row(A, "ListCases", AREA_READ, lambda w, t: ass_pb.ListCasesRequest(
        province_code=PROVINCE, commune_code=COMMUNE, year=YEAR)),
    Row(A, "GetClassification", UNIT_SELF_READ, lambda w, t: ass_pb.GetClassificationRequest(
        classification_id=t.classification_id), unit_a),
    Row(A, "GetHistory", UNIT_SELF_READ, lambda w, t: ass_pb.GetHistoryRequest(aggregate_id=t.case_id), unit_a),
    Row(A, "ExplainCase", UNIT_SELF_READ, lambda w, t: ass_pb.ExplainCaseRequest(case_id=t.case_id), unit_a),
    Row(A, "GetCommuneCoverage", AREA_READ, lambda w, t: ass_pb.GetCommuneCoverageRequest(
        commune_code=COMMUNE, year=YEAR)),
    # notifications
    Row(N, "GetRecipientCount", NATIONAL_READ, lambda w, t: not_pb.GetRecipientCountRequest()),
    Row(N, "ListUpcomingDeadlines", AREA_READ, lambda w, t: not_pb.ListUpcomingDeadlinesRequest(
        jurisdiction=not_pb.Jurisdiction(province_code=PROVINCE, commune_code=COMMUNE), days=30)),
    Row(N, "ListOverdue", AREA_READ, lambda w, t: not_pb.ListOverdueRequest(
        jurisdiction=not_pb.Jurisdiction(province_code=PROVINCE, commune_code=COMMUNE))),
    Row(N, "ListDeliveries", AREA_READ, lambda w, t: not_pb.ListDeliveriesRequest(
        jurisdiction=not_pb.Jurisdiction(province_code=PROVINCE, commune_code=COMMUNE))),
    Row(N, "RunScan", MINISTRY_WRITE, lambda w, t: not_pb.RunScanRequest()),
    Row(N, "GetUnitCalendar", UNIT_SELF_READ, lambda w, t: not_pb.GetUnitCalendarRequest(
        unit_id=t.unit_id, year=YEAR, include_past=True), unit_a),
    Row(N, "PreviewSends", NATIONAL_READ, lambda w, t: not_pb.PreviewSendsRequest(date=f"{YEAR}-10-01")),
    Row(N, "ListObligations", UNIT_SELF_READ, lambda w, t: not_pb.ListObligationsRequest(
        unit_id=t.unit_id, year=YEAR), unit_a),
    # reporting
    Row(P, "GetUnitCounts", NATIONAL_READ, lambda w, t: rep_pb.GetUnitCountsRequest()),
    Row(P, "GetRollup", PROVINCE_READ, lambda w, t: rep_pb.GetRollupRequest(query=query(f"province:{PROVINCE}"))),
    Row(P, "ListSubAreas", PROVINCE_READ, lambda w, t: rep_pb.ListSubAreasRequest(
        query=query(f"province:{PROVINCE}"))),
    Row(P, "ExportReport", AREA_READ, lambda w, t: rep_pb.ExportReportRequest(
        query=query(f"commune:{COMMUNE}"), format="csv")),
    Row(P, "ReplayReport", PROVINCE_READ, lambda w, t: rep_pb.ReplayReportRequest(
        query=query(f"province:{PROVINCE}"))),
    Row(P, "CheckGaps", NATIONAL_READ, lambda w, t: rep_pb.CheckGapsRequest()),
]


@pytest.mark.parametrize("service", list(DESCRIPTORS))
def test_the_table_covers_every_method_with_every_caller(service: str) -> None:
    rows = [r.method for r in TABLE if r.service == service]
    assert sorted(rows) == sorted(m.name for m in DESCRIPTORS[service].methods)  # one row per RPC, no stale rows
    for row in TABLE:
        assert set(row.outcomes) == {c.name for c in CALLERS}, row.method


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server for the module's services."""
    store = tmp_path_factory.mktemp("authz-nats")
    server = NatsServer(free_port(), store / "store", log_file=store / "nats-server.log").start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, nats: NatsServer) -> AsyncIterator[World]:
    """The four services requiring tokens, a pool of units in commune 11948 replicated everywhere."""
    tmp: Path = tmp_path_factory.mktemp("authz")
    kit = AuthKit(tmp / "keys")
    env = {"ANTT_NATS_URL": nats.url, "ANTT_RELAY_POLL_INTERVAL": "0.05", "ANTT_DATA_DIR": str(tmp),
           "ANTT_NOTIFICATIONS_SCAN_INTERVAL": "3600", **kit.env}
    for name in DESCRIPTORS:
        env[f"ANTT_{name.upper()}_GRPC_PORT"] = "0"
        env[f"ANTT_{name.upper()}_DATABASE_URL"] = f"sqlite:///{tmp / name}.db"
    builders = {"registry": build_registry, "assessment": build_assessment, "notifications": build_notifications,
                "reporting": build_reporting}
    with pytest.MonkeyPatch.context() as mp:  # the registry reads its reference plan from the environment
        mp.setenv("ANTT_REGISTRY_REFERENCE_TREE", PROVINCE)  # the national level and the communes of province 31
        services = [builders[name](ServiceSettings.from_env(name, env)) for name in DESCRIPTORS]
    for s in services:
        await s.start(Roles(metrics=False))
    channels = [kit.aio_channel(f"127.0.0.1:{s.grpc_port}") for s in services]
    try:
        w = World(reg_grpc.RegistryServiceStub(channels[0]), ass_grpc.AssessmentServiceStub(channels[1]),
                  not_grpc.NotificationsServiceStub(channels[2]), rep_grpc.ReportingServiceStub(channels[3]),
                  kit, services)
        await asyncio.wait_for(services[0].reference_loaded.wait(), 60)  # type: ignore[attr-defined]
        for province in TEST_PROVINCES:
            await w.registry.CreateArea(reg_pb.CreateAreaRequest(
                level="province", code=province, name=f"Tỉnh Thử {province}", kind="tinh", parent_code="VN",
                effective_date="2025-07-01", legal_basis=SYNTHETIC))
        a = await register(w, UNIT_A, "khu_dan_cu")
        await register(w, UNIT_B[0], "khu_dan_cu", UNIT_B[1], UNIT_B[2])
        kdc = [await register(w, f"KDC-POOL-{i:03d}", "khu_dan_cu") for i in range(POOL_KDC)]
        cq = [await register(w, f"CQ-POOL-{i:03d}", "co_quan") for i in range(POOL_CQ)]
        w.kdc, w.cq = iter(kdc), iter(cq)
        units = 2 + POOL_KDC + POOL_CQ

        async def replicated() -> bool:
            count = await w.assessment.CountReplicatedUnits(ass_pb.CountReplicatedUnitsRequest())
            known = await w.notifications.GetRecipientCount(not_pb.GetRecipientCountRequest())
            counts = await w.reporting.GetUnitCounts(rep_pb.GetUnitCountsRequest())
            return count.units == known.units == counts.total == units
        await async_wait_until(replicated, timeout=60, message="every unit in the replicas and read models")
        case = await recognised(w, a)
        cls = await classified(w, a)
        w.unit_a = Target(a.unit_id, a.unit_code, case_id=case.case_id, classification_id=cls.classification_id)
        yield w
    finally:
        for ch in channels:
            await ch.close()
        for s in reversed(services):
            await s.stop()


async def call(w: World, row: Row, target: Target, metadata: client.Metadata) -> Any:
    """Make the row's call as the caller; streams are drained."""
    stub = {"registry": w.registry, "assessment": w.assessment, "notifications": w.notifications,
            "reporting": w.reporting}[row.service]
    method = getattr(stub, row.method)
    if row.method in ("ImportUnits", "ImportAreas"):
        replies = [p async for p in method(row.request(w, target), metadata=metadata)]
        assert replies and replies[-1].done and not replies[-1].errors, replies[-1:]
        return replies
    return await method(row.request(w, target), metadata=metadata)


async def outcome(w: World, row: Row, caller: Caller, target: Target) -> str | None:
    """None for an allowed call that succeeded, or the reason code of a PERMISSION_DENIED (nothing written)."""
    before = w.stored()
    try:
        await call(w, row, target, w.token(caller, target))
    except grpc.aio.AioRpcError as error:
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED, (row.method, caller.name, error.code(),
                                                                   error.details())
        info = error_info(error)
        assert info is not None and info.metadata["vi"] and info.metadata["en"]
        assert w.stored() == before, (row.method, caller.name, "a denied call wrote events")
        return info.reason
    return None


@IN_MODULE_LOOP
@pytest.mark.parametrize("service", list(DESCRIPTORS))
async def test_matrix(world: World, service: str) -> None:
    failures = []
    for row in (r for r in TABLE if r.service == service):
        target: Target | None = None
        got: Outcomes = {}
        for caller in CALLERS:
            if target is None:
                target = await row.setup(world)
            got[caller.name] = await outcome(world, row, caller, target)
            if got[caller.name] is None and row.consumes:
                target = None
        if got != row.outcomes:
            failures.append((row.method, {k: (v, row.outcomes[k]) for k, v in got.items() if v != row.outcomes[k]}))
    assert failures == []


@IN_MODULE_LOOP
async def test_registry_import_checks_every_row(world: World) -> None:
    def rows(*communes: str) -> Iterator[reg_pb.ImportUnitsRequest]:
        yield reg_pb.ImportUnitsRequest(dry_run=True, total_rows=len(communes), rows=[
            reg_pb.ImportRow(row_number=n, code=f"KDC-IMP-R{n}", name=f"Tổ {n}", unit_type="khu_dan_cu",
                             province_code=PROVINCE, commune_code=c) for n, c in enumerate(communes, 2)])

    async def run(caller: str, request: Iterator[reg_pb.ImportUnitsRequest]) -> tuple[str | None, Any]:
        c = next(x for x in CALLERS if x.name == caller)
        try:
            return None, [p async for p in world.registry.ImportUnits(request, metadata=world.token(c, Target()))]
        except grpc.aio.AioRpcError as error:
            assert error.code() is grpc.StatusCode.PERMISSION_DENIED
            info = error_info(error)
            assert info is not None
            return info.reason, None

    reason, progress = await run("commune-11948", rows(COMMUNE, COMMUNE))
    assert reason is None and progress[-1].done and progress[-1].rows_checked == 2
    assert (await run("commune-11948", rows(COMMUNE, OTHER_COMMUNE)))[0] == OUT  # one row outside is enough
    assert (await run("province-31", rows(COMMUNE, OTHER_COMMUNE)))[0] is None


@IN_MODULE_LOOP
async def test_allowed_calls_are_recorded_under_the_token_subject(world: World) -> None:
    token = world.kit.token("commune_operator", "xa", COMMUNE, subject="user:history-check")
    await world.registry.UpdateUnit(reg_pb.UpdateUnitRequest(unit_id=world.unit_a.unit_id, contact_email="a@b.vn"),
                                    metadata=client.bearer_metadata(token))
    history = await world.registry.GetUnitHistory(reg_pb.GetUnitHistoryRequest(unit_id=world.unit_a.unit_id))
    last = history.entries[-1].actor
    assert (last.id, last.role, last.jurisdiction) == ("user:history-check", "commune_operator", COMMUNE)

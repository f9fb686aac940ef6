"""Authorisation of the registry, assessment and notifications services over real gRPC and a real nats-server.

Every public RPC declares a permission; with ANTT_AUTH_REQUIRED=true a matrix of roles × tiers ×
jurisdictions calls a representative command and query of each service: allowed calls succeed and
are recorded under the token's subject, every other call is PERMISSION_DENIED with a reason code
and writes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from antt.assessment.v1 import assessment_service_pb2 as ass_pb
from antt.assessment.v1 import assessment_service_pb2_grpc as ass_grpc
from antt.auth import keys
from antt.auth.authz import undeclared
from antt.auth.keys import Keyring
from antt.auth.tokens import issue
from antt.grpcx.errors import error_info
from antt.notifications.v1 import notifications_service_pb2 as not_pb
from antt.notifications.v1 import notifications_service_pb2_grpc as not_grpc
from antt.registry.v1 import registry_service_pb2 as reg_pb
from antt.registry.v1 import registry_service_pb2_grpc as reg_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.wait import async_wait_until
from services.assessment.api.servicer import AssessmentServicer
from services.assessment.main import build as build_assessment
from services.assessment.rules import UnitType, load_catalogue
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.main import build as build_notifications
from services.registry.api.servicer import RegistryServicer
from services.registry.main import build as build_registry
from tests.unit.assessment.grpc_builders import evidence, results

pytestmark = pytest.mark.integration

YEAR = 2026
RULES = load_catalogue().for_year(YEAR)
UNIT_A = ("KDC-AUTHZ-A", "31", "11948")   # Đặc khu Bạch Long Vĩ, Hải Phòng
UNIT_B = ("KDC-AUTHZ-B", "01", "00145")   # Phường Long Biên, Hà Nội


@pytest.mark.parametrize(("servicer", "descriptor"), [
    (RegistryServicer, reg_pb.DESCRIPTOR.services_by_name["RegistryService"]),
    (AssessmentServicer, ass_pb.DESCRIPTOR.services_by_name["AssessmentService"]),
    (NotificationsServicer, not_pb.DESCRIPTOR.services_by_name["NotificationsService"]),
])
def test_every_public_method_declares_a_permission(servicer: type, descriptor: Any) -> None:
    assert descriptor.methods and undeclared(servicer, descriptor) == []


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
    Caller("province-31", "province_operator", "tinh", "31"),
    Caller("province-01", "province_operator", "tinh", "01"),
    Caller("commune-11948", "commune_operator", "xa", "11948"),
    Caller("commune-11560", "commune_operator", "xa", "11560"),  # another commune of province 31
    Caller("unit-a", "unit_representative", "don_vi", "11948", UNIT_A[0]),
    Caller("unit-b", "unit_representative", "don_vi", "00145", UNIT_B[0]),
    Caller("auditor-bo", "auditor", "bo"),
    Caller("auditor-31", "auditor", "tinh", "31"),
    Caller("auditor-01", "auditor", "tinh", "01"),
    Caller("auditor-11560", "auditor", "xa", "11560"),
    Caller("agency", "agency_subscriber", "bo"),
    Caller("service", "service", "bo"),
]
OUT = "AUTH_OUT_OF_JURISDICTION"
OWN = "AUTH_NOT_OWN_UNIT"
RO = "AUTH_READ_ONLY"
ROLE = "AUTH_ROLE_NOT_ALLOWED"
# What each caller gets on unit A (31/11948): None = allowed, else the reason of the denial.
UNIT_A_WRITE = {"ministry": None, "province-31": None, "province-01": OUT, "commune-11948": None,
                "commune-11560": OUT, "unit-a": None, "unit-b": OWN, "auditor-bo": RO, "auditor-31": RO,
                "auditor-01": RO, "auditor-11560": RO, "agency": ROLE, "service": None}
UNIT_A_READ = {**UNIT_A_WRITE, "auditor-bo": None, "auditor-31": None, "auditor-01": OUT, "auditor-11560": OUT}
# RunScan (reminders nationwide) admits only the ministry and services.
MINISTRY_WRITE = {c.name: ROLE for c in CALLERS} | {"ministry": None, "service": None, "auditor-bo": RO,
                                                     "auditor-31": RO, "auditor-01": RO, "auditor-11560": RO}


@dataclass
class Stack:
    """The three services in this process with a token per caller."""

    registry: reg_grpc.RegistryServiceStub
    assessment: ass_grpc.AssessmentServiceStub
    notifications: not_grpc.NotificationsServiceStub
    tokens: dict[str, list[tuple[str, str]]]
    unit_a: str
    case_a: str


@pytest.fixture
async def stack(tmp_path: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    """Registry, assessment and notifications requiring tokens (create_server reads ANTT_AUTH_* from os.environ)."""
    keys_dir = tmp_path / "keys"
    keys.generate(keys_dir, "test-1")
    monkeypatch.setenv("ANTT_AUTH_REQUIRED", "true")
    monkeypatch.setenv("ANTT_AUTH_KEYS_DIR", str(keys_dir))
    keyring = Keyring.load(keys_dir)
    tokens = {c.name: [("authorization", "Bearer " + issue(keyring, f"user:{c.name}", c.role, c.tier,
                                                           c.jurisdiction, c.unit))] for c in CALLERS}
    env = {"ANTT_NATS_URL": nats_server.url, "ANTT_RELAY_POLL_INTERVAL": "0.05", "ANTT_AUTH_REQUIRED": "true",
           "ANTT_AUTH_KEYS_DIR": str(keys_dir)}
    for name in ("registry", "assessment", "notifications"):
        env[f"ANTT_{name.upper()}_GRPC_PORT"] = "0"
        env[f"ANTT_{name.upper()}_DATABASE_URL"] = f"sqlite:///{tmp_path / name}.db"
    services = [build_registry(ServiceSettings.from_env("registry", env)),
                build_assessment(ServiceSettings.from_env("assessment", env)),
                build_notifications(ServiceSettings.from_env("notifications", env))]
    for s in services:
        await s.start(Roles(metrics=False))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{services[0].grpc_port}") as reg_ch, \
                grpc.aio.insecure_channel(f"127.0.0.1:{services[1].grpc_port}") as ass_ch, \
                grpc.aio.insecure_channel(f"127.0.0.1:{services[2].grpc_port}") as not_ch:
            registry = reg_grpc.RegistryServiceStub(reg_ch)
            assessment = ass_grpc.AssessmentServiceStub(ass_ch)
            notifications = not_grpc.NotificationsServiceStub(not_ch)
            svc = tokens["service"]
            ids = []
            for code, province, commune in (UNIT_A, UNIT_B):
                reply = await registry.RegisterUnit(reg_pb.RegisterUnitRequest(
                    code=code, name=f"Đơn vị {code}", unit_type="khu_dan_cu", province_code=province,
                    commune_code=commune, effective_date="2025-10-01"), metadata=svc)
                ids.append(reply.unit_id)

            async def replicated() -> bool:
                count = await assessment.CountReplicatedUnits(ass_pb.CountReplicatedUnitsRequest(), metadata=svc)
                known = await notifications.GetRecipientCount(not_pb.GetRecipientCountRequest(), metadata=svc)
                return count.units == 2 and known.units == 2
            await async_wait_until(replicated, timeout=30, message="both units in the replicas")
            case = await assessment.RegisterCase(ass_pb.RegisterCaseRequest(
                unit_id=ids[0], year=YEAR, dossier=[evidence("REG-FORM", "dk")], effective_date="2026-01-15"),
                metadata=svc)
            yield Stack(registry, assessment, notifications, tokens, ids[0], case.case_id)
    finally:
        for s in reversed(services):
            await s.stop()


async def outcome(call: Callable[[list[tuple[str, str]]], Awaitable[Any]], token: list[tuple[str, str]]
                  ) -> tuple[str | None, Any]:
    """None and the reply of an allowed call, or the reason of a PERMISSION_DENIED."""
    try:
        return None, await call(token)
    except grpc.aio.AioRpcError as error:
        info = error_info(error)
        assert error.code() is grpc.StatusCode.PERMISSION_DENIED, (error.code(), error.details())
        assert info is not None and info.metadata["vi"] and info.metadata["en"]
        return info.reason, None


async def check_matrix(stack: Stack, expected: dict[str, str | None],
                       call: Callable[[list[tuple[str, str]]], Awaitable[Any]],
                       written: Callable[[], Awaitable[Any]] | None = None) -> None:
    """Every caller gets what `expected` says; a denied call leaves `written()` unchanged, an allowed one not."""
    got = {}
    for caller in CALLERS:
        before = await written() if written else None
        got[caller.name], _reply = await outcome(call, stack.tokens[caller.name])
        if written is not None:
            after = await written()
            assert (after == before) == (got[caller.name] is not None), (caller.name, before, after)
    assert got == expected


async def test_registry_matrix(stack: Stack) -> None:
    svc = stack.tokens["service"]

    async def version() -> int:
        return (await stack.registry.GetUnit(reg_pb.GetUnitRequest(unit_id=stack.unit_a), metadata=svc)).version

    emails = itertools.count(1)

    def update(token: list[tuple[str, str]]) -> Awaitable[Any]:
        email = f"lien-he-{next(emails)}@example.vn"
        return stack.registry.UpdateUnit(reg_pb.UpdateUnitRequest(unit_id=stack.unit_a, contact_email=email),
                                         metadata=token)
    await check_matrix(stack, UNIT_A_WRITE, update, version)
    await check_matrix(stack, UNIT_A_READ, lambda t: stack.registry.GetUnit(
        reg_pb.GetUnitRequest(unit_id=stack.unit_a), metadata=t))
    history = await stack.registry.GetUnitHistory(reg_pb.GetUnitHistoryRequest(unit_id=stack.unit_a), metadata=svc)
    actors = {e.actor.id for e in history.entries}
    assert {"user:ministry", "user:province-31", "user:commune-11948", "user:unit-a", "user:service"} <= actors
    assert not actors & {"user:province-01", "user:unit-b", "user:auditor-bo", "user:agency"}


async def test_assessment_matrix(stack: Stack) -> None:
    svc = stack.tokens["service"]

    async def version() -> int:
        return (await stack.assessment.GetCase(ass_pb.GetCaseRequest(case_id=stack.case_a), metadata=svc)).version

    def self_assess(token: list[tuple[str, str]]) -> Awaitable[Any]:
        return stack.assessment.RecordSelfAssessment(ass_pb.RecordSelfAssessmentRequest(
            case_id=stack.case_a, results=results(RULES, UnitType.KHU_DAN_CU), effective_date="2026-03-01"),
            metadata=token)
    await check_matrix(stack, UNIT_A_WRITE, self_assess, version)
    await check_matrix(stack, UNIT_A_READ, lambda t: stack.assessment.GetCase(
        ass_pb.GetCaseRequest(case_id=stack.case_a), metadata=t))
    history = await stack.assessment.GetHistory(ass_pb.GetHistoryRequest(aggregate_id=stack.case_a), metadata=svc)
    assert {e.actor.id for e in history.events} >= {"user:ministry", "user:commune-11948", "user:unit-a"}


async def test_notifications_matrix(stack: Stack) -> None:
    svc = stack.tokens["service"]

    async def deliveries() -> int:
        listed = await stack.notifications.ListDeliveries(not_pb.ListDeliveriesRequest(), metadata=svc)
        return len(listed.deliveries)

    got = {}
    for caller in CALLERS:  # a scan may find nothing to send, so only denials are checked for writes
        before = await deliveries()
        got[caller.name], _ = await outcome(lambda t: stack.notifications.RunScan(
            not_pb.RunScanRequest(), metadata=t), stack.tokens[caller.name])
        if got[caller.name] is not None:
            assert await deliveries() == before
    assert got == MINISTRY_WRITE
    await check_matrix(stack, UNIT_A_READ, lambda t: stack.notifications.ListObligations(
        not_pb.ListObligationsRequest(unit_id=stack.unit_a, year=YEAR), metadata=t))


async def test_registry_import_checks_every_row(stack: Stack) -> None:
    def rows(*communes: str) -> reg_pb.ImportUnitsRequest:
        return reg_pb.ImportUnitsRequest(dry_run=True, total_rows=len(communes), rows=[
            reg_pb.ImportRow(row_number=n, code=f"KDC-IMP-{n}", name=f"Tổ {n}", unit_type="khu_dan_cu",
                             province_code="31", commune_code=c) for n, c in enumerate(communes, 2)])

    async def run(caller: str, request: reg_pb.ImportUnitsRequest) -> tuple[str | None, Any]:
        async def call(token: list[tuple[str, str]]) -> list[Any]:
            return [p async for p in stack.registry.ImportUnits(iter([request]), metadata=token)]
        return await outcome(call, stack.tokens[caller])

    reason, progress = await run("commune-11948", rows("11948", "11948"))
    assert reason is None and progress[-1].done and progress[-1].rows_checked == 2
    assert (await run("commune-11948", rows("11948", "11560")))[0] == OUT  # one row outside is enough
    assert (await run("province-31", rows("11948", "11560")))[0] is None
    assert (await run("auditor-bo", rows("11948")))[0] == RO
    assert (await run("unit-a", rows("11948")))[0] == ROLE
    areas = reg_pb.ImportAreasRequest(dry_run=True)
    denied = await outcome(lambda t: _drain(stack.registry.ImportAreas(iter([areas]), metadata=t)),
                           stack.tokens["province-31"])
    assert denied[0] == ROLE


async def _drain(stream: Any) -> list[Any]:
    return [item async for item in stream]

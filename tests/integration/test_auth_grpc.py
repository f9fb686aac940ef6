"""Authentication and authorisation over real gRPC, on a small test servicer (RegistryService stubs).

The matrix covers roles × tiers × jurisdictions × the test servicer's methods: allowed calls succeed
and record the token's subject; every other call is PERMISSION_DENIED and writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt import metrics
from antt.actor import SYSTEM, Actor
from antt.auth import keys
from antt.auth.authz import Target, UnitPlace, authorised_in_body, authorize, fields, permission, requires, undeclared
from antt.auth.config import AuthConfig
from antt.auth.keys import Keyring
from antt.auth.principal import Role
from antt.auth.tokens import issue
from antt.grpcx.auth import principal_actor
from antt.grpcx.errors import error_info
from antt.grpcx.server import ServicerBinding, create_server
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration

COMMUNES = {"11948": "31", "11950": "31", "00145": "01"}
UNITS = {"unit-a": UnitPlace("KDC-A", "31", "11948"), "unit-b": UnitPlace("KDC-B", "01", "00145")}


class Resolver:
    """What a real service supplies from its read model."""

    def province_of(self, commune_code: str, as_of: str = "") -> str | None:
        return COMMUNES.get(commune_code)

    async def unit_place(self, unit_ref: str, as_of: str = "") -> UnitPlace | None:
        return UNITS.get(unit_ref)


IMPORT_ROW = permission(write=True, target=fields(province="province_code", commune="commune_code"))


class Servicer(pb_grpc.RegistryServiceServicer):
    """A tiny servicer: every write appends (method, target, actor) to `written`."""

    authz_service = "test-registry"

    def __init__(self) -> None:
        self.authz_resolver = Resolver()
        self.written: list[tuple[str, str, Actor]] = []

    @requires(permission(write=True, target=fields(province="province_code", commune="commune_code")))
    async def RegisterUnit(self, request: pb.RegisterUnitRequest, context: Any) -> pb.RegisterUnitResponse:
        self.written.append(("RegisterUnit", request.commune_code, principal_actor()))
        return pb.RegisterUnitResponse(unit_id="new", version=1)

    @requires(permission(write=False, target=fields(unit="unit_id", as_of="as_of"), unit_self=True))
    async def GetUnit(self, request: pb.GetUnitRequest, context: Any) -> pb.Unit:
        return pb.Unit(unit_id=request.unit_id)

    @requires(permission(write=True, target=fields(unit="unit_id", as_of="effective_date"), unit_self=True))
    async def DeclareEligibilityFacts(self, request: pb.DeclareEligibilityFactsRequest, context: Any) -> pb.Unit:
        self.written.append(("DeclareEligibilityFacts", request.unit_id, principal_actor()))
        return pb.Unit(unit_id=request.unit_id)

    @requires(permission(write=False, target=fields(province="province_code", commune="commune_code")))
    async def ListUnits(self, request: pb.ListUnitsRequest, context: Any) -> pb.ListUnitsResponse:
        return pb.ListUnitsResponse()

    @requires(permission(write=True, target=lambda r: [
        Target(unit_ref=r.unit_id, as_of=r.effective_date),
        Target(province_code=r.province_code, commune_code=r.commune_code, as_of=r.effective_date)]))
    async def MoveUnit(self, request: pb.MoveUnitRequest, context: Any) -> pb.Unit:
        """Both where the unit is and where it goes must be within reach."""
        self.written.append(("MoveUnit", request.unit_id, principal_actor()))
        return pb.Unit(unit_id=request.unit_id)

    @requires(permission({Role.MINISTRY_OPERATOR}, write=True))
    async def CreateArea(self, request: pb.CreateAreaRequest, context: Any) -> pb.Area:
        self.written.append(("CreateArea", request.code, principal_actor()))
        return pb.Area(code=request.code)

    @authorised_in_body
    async def ImportUnits(self, request_iterator: Any, context: Any) -> AsyncIterator[pb.ImportUnitsProgress]:
        """Streaming: each row is authorised on its own (a bulk call cannot reach outside the jurisdiction)."""
        rows = 0
        async for chunk in request_iterator:
            for row in chunk.rows:
                await authorize(context, IMPORT_ROW, row, self.authz_resolver, self.authz_service, "ImportUnits")
                rows += 1
            yield pb.ImportUnitsProgress(rows_checked=rows)
        self.written.append(("ImportUnits", str(rows), principal_actor()))
        yield pb.ImportUnitsProgress(rows_checked=rows, done=True, committed=True, imported=rows)


@dataclass
class Server:
    servicer: Servicer
    port: int
    ring: Keyring
    server: grpc.aio.Server
    keys_dir: Path


async def start(tmp_path: Path, required: bool) -> Server:
    cfg = AuthConfig(required=required, keys_dir=tmp_path / "keys")
    ring = keys.ensure_dev_keyring(cfg.keys_dir)
    servicer = Servicer()
    binding = ServicerBinding(servicer, pb_grpc.add_RegistryServiceServicer_to_server,
                              "antt.registry.v1.RegistryService")
    server, port, _ = await create_server("test-registry", "127.0.0.1", 0, [binding], auth=cfg)
    return Server(servicer, port, ring, server, cfg.keys_dir)


@pytest.fixture
async def required(tmp_path: Path) -> AsyncIterator[Server]:
    s = await start(tmp_path, required=True)
    yield s
    await s.server.stop(None)


@pytest.fixture
async def optional(tmp_path: Path) -> AsyncIterator[Server]:
    s = await start(tmp_path, required=False)
    yield s
    await s.server.stop(None)


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


CASES: dict[str, tuple[str, Callable[[], Any]]] = {
    "reg_A": ("RegisterUnit", lambda: pb.RegisterUnitRequest(code="X", province_code="31", commune_code="11948")),
    "reg_A_commune_only": ("RegisterUnit", lambda: pb.RegisterUnitRequest(code="Y", commune_code="11950")),
    "reg_lying_province": ("RegisterUnit", lambda: pb.RegisterUnitRequest(code="W", province_code="31",
                                                                          commune_code="00145")),
    "reg_B": ("RegisterUnit", lambda: pb.RegisterUnitRequest(code="Z", province_code="01", commune_code="00145")),
    "get_a": ("GetUnit", lambda: pb.GetUnitRequest(unit_id="unit-a")),
    "get_b": ("GetUnit", lambda: pb.GetUnitRequest(unit_id="unit-b")),
    "get_unknown": ("GetUnit", lambda: pb.GetUnitRequest(unit_id="unit-z")),
    "decl_a": ("DeclareEligibilityFacts", lambda: pb.DeclareEligibilityFactsRequest(unit_id="unit-a")),
    "decl_b": ("DeclareEligibilityFacts", lambda: pb.DeclareEligibilityFactsRequest(unit_id="unit-b")),
    "list_A": ("ListUnits", lambda: pb.ListUnitsRequest(province_code="31")),
    "list_commune": ("ListUnits", lambda: pb.ListUnitsRequest(commune_code="11948")),
    "list_all": ("ListUnits", lambda: pb.ListUnitsRequest()),
    "move_a_within": ("MoveUnit", lambda: pb.MoveUnitRequest(unit_id="unit-a", commune_code="11950")),
    "move_a_to_B": ("MoveUnit", lambda: pb.MoveUnitRequest(unit_id="unit-a", province_code="01",
                                                           commune_code="00145")),
    "area": ("CreateArea", lambda: pb.CreateAreaRequest(level="commune", code="99999")),
}
EVERYTHING = set(CASES)
READS_ALL = {"get_a", "get_b", "get_unknown", "list_A", "list_commune", "list_all"}

# (role, tier, jurisdiction, unit) -> the cases allowed; every other case must be PERMISSION_DENIED.
MATRIX: dict[tuple[str, str, str, str], set[str]] = {
    ("ministry_operator", "bo", "", ""): EVERYTHING,
    ("service", "bo", "", ""): EVERYTHING,
    ("province_operator", "tinh", "31", ""): {"reg_A", "reg_A_commune_only", "get_a", "decl_a", "list_A",
                                              "list_commune", "move_a_within"},
    ("province_operator", "tinh", "01", ""): {"reg_B", "reg_lying_province", "get_b", "decl_b"},
    ("commune_operator", "xa", "11948", ""): {"reg_A", "get_a", "decl_a", "list_commune"},
    ("commune_operator", "xa", "00145", ""): {"reg_B", "reg_lying_province", "get_b", "decl_b"},
    ("unit_representative", "don_vi", "11948", "KDC-A"): {"get_a", "decl_a"},
    ("unit_representative", "don_vi", "00145", "KDC-B"): {"get_b", "decl_b"},
    ("auditor", "bo", "", ""): READS_ALL,
    ("auditor", "tinh", "31", ""): {"get_a", "list_A", "list_commune"},
    ("auditor", "xa", "11948", ""): {"get_a", "list_commune"},
    ("agency_subscriber", "tinh", "31", ""): set(),
    ("agency_subscriber", "bo", "", ""): set(),
}


@pytest.mark.parametrize("who", list(MATRIX), ids=lambda w: "-".join(x for x in w if x))
async def test_matrix_roles_tiers_jurisdictions(required: Server, who: tuple[str, str, str, str]) -> None:
    role, tier, jurisdiction, unit = who
    token = issue(required.ring, f"user:{role}-{jurisdiction or 'vn'}", role, tier, jurisdiction, unit=unit)
    wrong: list[str] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{required.port}") as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        for case, (method, make) in CASES.items():
            before = list(required.servicer.written)
            try:
                await getattr(stub, method)(make(), metadata=bearer(token))
                outcome = "allowed"
            except grpc.aio.AioRpcError as exc:
                info = error_info(exc)
                assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, (case, exc.code(), exc.details())
                assert info is not None and info.reason.startswith("AUTH_")
                assert info.metadata["vi"] and info.metadata["en"]
                assert required.servicer.written == before, f"{case} wrote despite the denial"
                outcome = "denied"
            expected = "allowed" if case in MATRIX[who] else "denied"
            if outcome != expected:
                wrong.append(f"{case}: {outcome}, expected {expected}")
    assert wrong == []
    writers = {a.id for _m, _t, a in required.servicer.written}
    assert writers <= {f"user:{role}-{jurisdiction or 'vn'}"}  # events record the token's subject


async def test_denial_reasons_metric_and_log(required: Server, caplog: pytest.LogCaptureFixture) -> None:
    auditor = issue(required.ring, "user:kiem-toan", "auditor", "tinh", "31")
    commune = issue(required.ring, "user:can-bo-xa", "commune_operator", "xa", "11948")
    rep = issue(required.ring, "user:dai-dien", "unit_representative", "don_vi", "11948", unit="KDC-A")
    agency = issue(required.ring, "user:so-gd", "agency_subscriber", "tinh", "31")
    counter = metrics.AUTHZ_DENIED.labels("test-registry", "RegisterUnit", "AUTH_OUT_OF_JURISDICTION")
    before = counter._value.get()
    expectations = [
        (auditor, "DeclareEligibilityFacts", pb.DeclareEligibilityFactsRequest(unit_id="unit-a"), "AUTH_READ_ONLY"),
        (commune, "RegisterUnit", pb.RegisterUnitRequest(province_code="01", commune_code="00145"),
         "AUTH_OUT_OF_JURISDICTION"),
        (rep, "DeclareEligibilityFacts", pb.DeclareEligibilityFactsRequest(unit_id="unit-b"), "AUTH_NOT_OWN_UNIT"),
        (rep, "ListUnits", pb.ListUnitsRequest(commune_code="11948"), "AUTH_ROLE_NOT_ALLOWED"),
        (agency, "GetUnit", pb.GetUnitRequest(unit_id="unit-a"), "AUTH_ROLE_NOT_ALLOWED"),
        (commune, "GetUnit", pb.GetUnitRequest(unit_id="unit-z"), "AUTH_TARGET_UNRESOLVED"),
    ]
    caplog.set_level(logging.WARNING, logger="antt.auth.authz")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{required.port}") as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        for token, method, request, reason in expectations:
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await getattr(stub, method)(request, metadata=bearer(token))
            info = error_info(failure.value)
            assert (failure.value.code(), info.reason if info else None) == (grpc.StatusCode.PERMISSION_DENIED, reason)
    assert counter._value.get() == before + 1
    assert "user:can-bo-xa" in caplog.text and "AUTH_OUT_OF_JURISDICTION" in caplog.text
    assert required.servicer.written == []


async def test_every_rpc_of_the_test_servicer_declares_its_permission() -> None:
    descriptor = pb.DESCRIPTOR.services_by_name["RegistryService"]
    missing = undeclared(Servicer, descriptor)
    assert {"RegisterUnit", "GetUnit", "ListUnits", "MoveUnit", "CreateArea", "ImportUnits"}.isdisjoint(missing)
    assert "UpdateUnit" in missing and "CloseUnit" in missing  # what a real servicer forgot is reported


@pytest.mark.parametrize("make_token", ["missing", "expired", "tampered", "wrong_key", "garbage", "basic"])
async def test_bad_tokens_are_unauthenticated_and_health_stays_open(
        required: Server, tmp_path: Path, make_token: str) -> None:
    good = issue(required.ring, "user:a", "ministry_operator", "bo")
    other = keys.ensure_dev_keyring(tmp_path / "other")
    metadata = {
        "missing": (),
        "expired": bearer(issue(required.ring, "user:a", "ministry_operator", "bo", ttl_seconds=5,
                                now=time.time() - 600)),
        "tampered": bearer(good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")),
        "wrong_key": bearer(issue(other, "user:a", "ministry_operator", "bo")),
        "garbage": bearer("not-a-token"),
        "basic": (("authorization", "Basic dXNlcjpwYXNz"),),
    }[make_token]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{required.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await pb_grpc.RegistryServiceStub(ch).CreateArea(pb.CreateAreaRequest(code="1"), metadata=metadata)
        health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    info = error_info(failure.value)
    assert info is not None and info.reason.startswith("AUTH_") and info.metadata["vi"] != info.metadata["en"]
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert required.servicer.written == []


async def test_optional_mode_without_token_is_the_system_actor_with_token_is_verified(optional: Server) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{optional.port}") as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        await stub.CreateArea(pb.CreateAreaRequest(code="1"))
        token = issue(optional.ring, "user:bo-ca", "ministry_operator", "bo")
        await stub.CreateArea(pb.CreateAreaRequest(code="2"), metadata=bearer(token))
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stub.CreateArea(pb.CreateAreaRequest(code="3"), metadata=bearer(token + "x"))
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [(c, a) for _m, c, a in optional.servicer.written] == [
        ("1", SYSTEM), ("2", Actor("user:bo-ca", "ministry_operator", "bo", ""))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=6000))
async def test_random_tokens_over_grpc_are_always_unauthenticated(required: Server, token: str) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{required.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await pb_grpc.RegistryServiceStub(ch).CreateArea(pb.CreateAreaRequest(code="1"),
                                                              metadata=bearer(token))
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert required.servicer.written == []


async def test_streaming_calls_carry_the_principal_and_are_authorised_per_row(required: Server) -> None:
    token = issue(required.ring, "user:can-bo-xa", "commune_operator", "xa", "11948")

    def chunks(*communes: str) -> Any:
        return iter([pb.ImportUnitsRequest(rows=[pb.ImportRow(commune_code=c)]) for c in communes])

    async with grpc.aio.insecure_channel(f"127.0.0.1:{required.port}") as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        replies = [r async for r in stub.ImportUnits(chunks("11948", "11948"), metadata=bearer(token))]
        assert replies[-1].imported == 2
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            _ = [r async for r in stub.ImportUnits(chunks("11948", "00145"), metadata=bearer(token))]
        assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            _ = [r async for r in stub.ImportUnits(chunks("11948"), metadata=bearer("x.y.z"))]
        assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [(m, n, a.id) for m, n, a in required.servicer.written] == [("ImportUnits", "2", "user:can-bo-xa")]


async def test_effective_actor_prefers_the_token_over_the_request_body(optional: Server) -> None:
    from antt.grpcx.auth import effective_actor

    claimed = Actor("user:claimed", "commune_operator", "xa", "11948")
    seen: list[Actor] = []

    class Probe(Servicer):
        @requires(permission({Role.MINISTRY_OPERATOR}, write=True))
        async def CreateArea(self, request: pb.CreateAreaRequest, context: Any) -> pb.Area:
            seen.append(effective_actor(claimed))
            return pb.Area(code=request.code)

    binding = ServicerBinding(Probe(), pb_grpc.add_RegistryServiceServicer_to_server,
                              "antt.registry.v1.RegistryService")
    server, port, _ = await create_server("probe", "127.0.0.1", 0, [binding],
                                          auth=AuthConfig(required=False, keys_dir=optional.keys_dir))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.RegistryServiceStub(ch)
            await stub.CreateArea(pb.CreateAreaRequest(code="1"))
            token = issue(optional.ring, "user:bo-ca", "ministry_operator", "bo")
            await stub.CreateArea(pb.CreateAreaRequest(code="2"), metadata=bearer(token))
    finally:
        await server.stop(None)
    assert [a.id for a in seen] == ["user:claimed", "user:bo-ca"]


async def test_client_channels_send_the_token_on_every_kind_of_call(required: Server) -> None:
    from antt.auth import client

    token = client.service_token(required.keys_dir, subject="service:client-test")
    async with client.aio_channel(f"127.0.0.1:{required.port}", token) as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        await stub.GetUnit(pb.GetUnitRequest(unit_id="unit-a"))  # unary
        progress = [p async for p in stub.ImportUnits(iter([pb.ImportUnitsRequest(rows=[pb.ImportRow(
            code="Q", province_code="31", commune_code="11948")])]))]  # stream-stream
        assert progress[-1].done
        auditor = issue(required.ring, "user:auditor-override", "auditor", "bo")
        with pytest.raises(grpc.aio.AioRpcError) as denied:  # a call's own token wins over the channel's
            await stub.CreateArea(pb.CreateAreaRequest(level="commune", code="1"), metadata=bearer(auditor))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    def sync_call() -> None:  # the synchronous channel too (in a thread: the server runs on this loop)
        with client.channel(f"127.0.0.1:{required.port}", token) as sync_ch:
            pb_grpc.RegistryServiceStub(sync_ch).DeclareEligibilityFacts(
                pb.DeclareEligibilityFactsRequest(unit_id="unit-a"), timeout=10)
    await asyncio.to_thread(sync_call)
    assert [(w[0], w[2].id) for w in required.servicer.written] == [
        ("ImportUnits", "service:client-test"), ("DeclareEligibilityFacts", "service:client-test")]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{required.port}") as bare:  # and without it: refused
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.RegistryServiceStub(bare).GetUnit(pb.GetUnitRequest(unit_id="unit-a"))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

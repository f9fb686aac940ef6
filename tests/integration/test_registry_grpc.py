"""Registry over real gRPC: health, reflection, metrics, and domain errors with reason codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from google.rpc import error_details_pb2

from antt import metrics
from antt.grpcx.errors import error_info
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.auth import AuthKit
from services.registry.main import build

pytestmark = pytest.mark.integration


@pytest.fixture
async def registry(tmp_path: Path, nats_server: NatsServer, auth_kit: AuthKit) -> AsyncIterator[Service]:
    settings = ServiceSettings.from_env("registry", {**auth_kit.env,
        "ANTT_NATS_URL": nats_server.url, "ANTT_REGISTRY_GRPC_PORT": "0",
        "ANTT_REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}"})
    service = build(settings)
    await service.start(Roles(metrics=False))
    yield service
    await service.stop()


def request(**overrides: str) -> pb.RegisterUnitRequest:
    fields = dict(code="KDC-0001", name="Tổ dân phố số 1", unit_type="khu_dan_cu", province_code="01",
                  commune_code="00145")
    fields.update(overrides)
    return pb.RegisterUnitRequest(**fields)


async def test_register_then_get_and_health_and_reflection(auth_kit: AuthKit, registry: Service) -> None:
    async with auth_kit.aio_channel(f"127.0.0.1:{registry.grpc_port}") as ch:
        health = await health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="antt.registry.v1.RegistryService"))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = pb_grpc.RegistryServiceStub(ch)
        reply = await stub.RegisterUnit(request(name="Tổ dân phố số 1"))
        unit = await stub.GetUnit(pb.GetUnitRequest(unit_id=reply.unit_id))
        assert (unit.code, unit.name, unit.province_code, unit.version) == ("KDC-0001", "Tổ dân phố số 1", "01", 1)
        names = []
        async for r in reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])):
            names = [s.name for s in r.list_services_response.service]
        assert "antt.registry.v1.RegistryService" in names and "grpc.health.v1.Health" in names
    ok = metrics.GRPC_REQUESTS.labels("registry", "RegisterUnit", "OK")._value.get()
    assert ok >= 1


@pytest.mark.parametrize(("overrides", "code", "reason", "field"), [
    ({"unit_type": "truong_dai_hoc"}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_UNIT_FIELD", "unit_type"),
    ({"name": "  "}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_UNIT_FIELD", "name"),
    ({"name": "Thôn\x07A"}, grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_CONTROL_CHARACTER", "name"),  # kernel check
    ({"name": "x" * 201}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_UNIT_FIELD", "name"),
    ({"province_code": "99"}, grpc.StatusCode.NOT_FOUND, "UNKNOWN_AREA", "province_code"),
    ({"commune_code": "11948"}, grpc.StatusCode.NOT_FOUND, "UNKNOWN_AREA", "commune_code"),
    ({"effective_date": "31/01/2026"}, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", "effective_date"),
])
async def test_bad_input_gets_a_clear_error_and_writes_nothing(auth_kit: AuthKit,
        registry: Service, overrides: dict[str, str], code: grpc.StatusCode, reason: str, field: str) -> None:
    async with auth_kit.aio_channel(f"127.0.0.1:{registry.grpc_port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await pb_grpc.RegistryServiceStub(ch).RegisterUnit(request(**overrides))
    assert failure.value.code() == code
    info = error_info(failure.value)
    assert info is not None and info.reason == reason
    assert info.metadata["vi"] and info.metadata["en"] and info.metadata["vi"] != info.metadata["en"]
    status = rpc_status.from_call(failure.value)
    violations = [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)]
    bad = error_details_pb2.BadRequest()
    violations[0].Unpack(bad)
    assert bad.field_violations[0].field == field
    assert registry.parts.app.recorder.max_notification_id() in (None, 0)


async def test_second_registration_of_a_code_is_already_exists(auth_kit: AuthKit, registry: Service) -> None:
    async with auth_kit.aio_channel(f"127.0.0.1:{registry.grpc_port}") as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        await stub.RegisterUnit(request())
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await stub.RegisterUnit(request(name="Another name"))
    assert failure.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(failure.value).reason == "UNIT_ALREADY_REGISTERED"
    assert registry.parts.app.recorder.max_notification_id() == 1

"""ImportUnits authorises each row's place once per stream: a new place is still checked, and denied rows abort."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.auth import AuthKit
from services.registry.main import build

pytestmark = pytest.mark.integration

HAI_PHONG, HAI_PHONG_COMMUNE, HA_NOI_COMMUNE = "31", "11948", "00145"


@pytest.fixture
async def registry(auth_kit: AuthKit, tmp_path: Path, nats_server: NatsServer,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Service]:
    """A registry with the reference tree of Hải Phòng (31) and Hà Nội (01), auth required."""
    monkeypatch.setenv("ANTT_REGISTRY_REFERENCE_TREE", "31,01")
    service = build(ServiceSettings.from_env("registry", {
        **auth_kit.env, "ANTT_NATS_URL": nats_server.url, "ANTT_REGISTRY_GRPC_PORT": "0",
        "ANTT_REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}"}))
    await service.start(Roles(metrics=False))
    await asyncio.wait_for(service.reference_loaded.wait(), 60)  # type: ignore[attr-defined]
    yield service
    await service.stop()


def chunks(*places: list[tuple[str, str]]) -> list[pb.ImportUnitsRequest]:
    """One request per list of (province, commune), a khu dân cư per place."""
    n = 0
    requests = []
    for chunk in places:
        rows = []
        for province, commune in chunk:
            n += 1
            rows.append(pb.ImportRow(row_number=n + 1, code=f"KDC-AUTH-{n}", name=f"Thôn {n}", unit_type="khu_dan_cu",
                                     province_code=province, commune_code=commune))
        requests.append(pb.ImportUnitsRequest(rows=rows))
    return requests


async def test_a_province_operator_imports_its_places_and_is_stopped_at_the_first_place_outside(
        registry: Service, auth_kit: AuthKit) -> None:
    token = auth_kit.token("province_operator", "tinh", HAI_PHONG, subject="user:canbo-31")
    async with auth_kit.aio_channel(f"127.0.0.1:{registry.grpc_port}", token) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        own = [(HAI_PHONG, HAI_PHONG_COMMUNE), ("", HAI_PHONG_COMMUNE)]
        replies = [r async for r in stub.ImportUnits(iter(chunks(own, own)))]
        assert replies[-1].committed and replies[-1].imported == 4
        # A place first seen in the second message, claiming Hải Phòng for a commune of Hà Nội.
        lying = chunks(own, [(HAI_PHONG, HAI_PHONG_COMMUNE), (HAI_PHONG, HA_NOI_COMMUNE)])
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            _ = [r async for r in stub.ImportUnits(iter(lying))]
        assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
        listed = await stub.ListUnits(pb.ListUnitsRequest(province_code=HAI_PHONG))
        assert sorted(u.code for u in listed.units) == [f"KDC-AUTH-{n}" for n in range(1, 5)]

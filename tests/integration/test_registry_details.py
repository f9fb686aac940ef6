"""Household count and tax code over real gRPC: register, get, update, list, import, errors and published events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import nats
import pytest

from antt.contracts import envelope, types
from antt.events.v1 import registry_pb2 as events_pb
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.testing.auth import AuthKit
from antt.testing.wait import async_wait_until
from tests.integration.test_registry_api import OFFICER, import_rows, refused, start_registry, stored_events

pytestmark = pytest.mark.integration

PROVINCE, COMMUNE = "31", "11948"  # an official 2025 commune of Hải Phòng from the shipped reference list


@pytest.fixture
async def service_and_stub(auth_kit: AuthKit, tmp_path: Path, nats_server: NatsServer,
                           monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[pb_grpc.RegistryServiceStub]:
    """A registry with an explicit store and no reference tree loaded (units are checked against the 2025 list)."""
    monkeypatch.delenv("ANTT_REGISTRY_REFERENCE_TREE", raising=False)
    service = await start_registry(tmp_path, nats_server, auth=auth_kit)
    officer = auth_kit.token("ministry_operator", "bo", subject=OFFICER.id)  # events record the token's subject
    async with auth_kit.aio_channel(f"127.0.0.1:{service.grpc_port}", officer) as channel:
        yield pb_grpc.RegistryServiceStub(channel)
    await service.stop()


def register(code: str, unit_type: str, **details: object) -> pb.RegisterUnitRequest:
    return pb.RegisterUnitRequest(code=code, name=f"Đơn vị {code}", unit_type=unit_type, province_code=PROVINCE,
                                  commune_code=COMMUNE, effective_date="2025-08-01", actor=OFFICER,
                                  **details)  # type: ignore[arg-type]


async def test_details_are_registered_returned_updated_and_published(
        service_and_stub: pb_grpc.RegistryServiceStub, nats_server: NatsServer) -> None:
    stub = service_and_stub
    village = await stub.RegisterUnit(register("KDC-1", "khu_dan_cu", household_count=0))
    firm = await stub.RegisterUnit(register("DN-1", "doanh_nghiep", tax_code="0201234567-001"))
    plain = await stub.RegisterUnit(register("KDC-2", "khu_dan_cu"))
    got = await stub.GetUnit(pb.GetUnitRequest(unit_id=village.unit_id))
    assert got.HasField("household_count") and got.household_count == 0 and got.tax_code == ""
    assert (await stub.GetUnit(pb.GetUnitRequest(unit_id=firm.unit_id))).tax_code == "0201234567-001"
    assert not (await stub.GetUnit(pb.GetUnitRequest(unit_id=plain.unit_id))).HasField("household_count")

    updated = await stub.UpdateUnit(pb.UpdateUnitRequest(unit_id=village.unit_id, household_count=180,
                                                         actor=OFFICER))
    assert updated.household_count == 180 and updated.name == "Đơn vị KDC-1"
    updated = await stub.UpdateUnit(pb.UpdateUnitRequest(unit_id=firm.unit_id, tax_code="0201234567",
                                                         name="Công ty CP Cảng Hải Phòng", actor=OFFICER))
    assert (updated.tax_code, updated.name) == ("0201234567", "Công ty CP Cảng Hải Phòng")
    listed = await stub.ListUnits(pb.ListUnitsRequest(commune_code=COMMUNE))
    assert {u.code: (u.household_count, u.tax_code) for u in listed.units} == {
        "DN-1": (0, "0201234567"), "KDC-1": (180, ""), "KDC-2": (0, "")}
    history = await stub.GetUnitHistory(pb.GetUnitHistoryRequest(unit_id=village.unit_id))
    assert [e.event_type for e in history.entries] == ["Registered", "DetailsDeclared", "DetailsDeclared"]
    assert history.entries[-1].details["household_count"] == "180"

    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.jetstream().pull_subscribe(f"antt.registry.v1.*.{PROVINCE}.{COMMUNE}", durable=None)
        msgs: list[object] = []

        async def all_published() -> bool:
            try:
                fetched = await sub.fetch(8 - len(msgs), timeout=1)
            except Exception:  # nothing yet: the relay publishes on its own schedule
                return False
            for m in fetched:
                await m.ack()
            msgs.extend(fetched)
            return len(msgs) >= 8
        await async_wait_until(all_published, timeout=30, message="registry events on the stream")
        decoded = [types.decode(envelope.from_headers(m.headers).type, m.data) for m in msgs]  # type: ignore[attr-defined]
        declared = [p for p in decoded if isinstance(p, events_pb.UnitDetailsDeclared)]
        assert [(p.code, p.household_count, p.tax_code) for p in declared] == [
            ("KDC-1", 0, ""), ("DN-1", 0, "0201234567-001"), ("KDC-1", 180, ""), ("DN-1", 0, "0201234567")]
        assert declared[0].HasField("household_count") and not declared[1].HasField("household_count")
        firm_updated = [p for p in decoded if isinstance(p, events_pb.UnitUpdated)]
        assert [(p.code, p.tax_code) for p in firm_updated] == [("DN-1", "0201234567-001")]
    finally:
        await nc.close()


async def test_wrong_details_get_reason_coded_invalid_argument_and_write_nothing(
        service_and_stub: pb_grpc.RegistryServiceStub, tmp_path: Path) -> None:
    stub = service_and_stub
    village = await stub.RegisterUnit(register("KDC-1", "khu_dan_cu", household_count=50))
    before = stored_events(tmp_path)
    bad = grpc.StatusCode.INVALID_ARGUMENT
    await refused(stub.RegisterUnit(register("CQ-1", "co_quan", household_count=5)), bad,
                  "HOUSEHOLD_COUNT_NOT_APPLICABLE", "household_count")
    await refused(stub.RegisterUnit(register("KDC-9", "khu_dan_cu", tax_code="0101234567")), bad,
                  "TAX_CODE_NOT_APPLICABLE", "tax_code")
    await refused(stub.RegisterUnit(register("DN-9", "doanh_nghiep", tax_code="01-2345")), bad,
                  "INVALID_TAX_CODE", "tax_code")
    await refused(stub.UpdateUnit(pb.UpdateUnitRequest(unit_id=village.unit_id, name="Tên mới", tax_code="0101234567",
                                                       actor=OFFICER)), bad, "TAX_CODE_NOT_APPLICABLE", "tax_code")
    assert stored_events(tmp_path) == before
    assert (await stub.GetUnit(pb.GetUnitRequest(unit_id=village.unit_id))).name == "Đơn vị KDC-1"


async def test_import_reports_bad_details_per_row_and_column_then_commits(
        service_and_stub: pb_grpc.RegistryServiceStub, tmp_path: Path) -> None:
    stub = service_and_stub
    columns = {"code": "Mã đơn vị", "name": "Tên đơn vị", "unit_type": "Loại", "commune_code": "Mã xã",
               "household_count": "Số hộ gia đình", "tax_code": "Mã số thuế"}
    good = [dict(code="K-1", name="Thôn 1", unit_type="Khu dân cư", commune_code=COMMUNE, household_count="1.250"),
            dict(code="D-2", name="Công ty 2", unit_type="Doanh nghiệp", commune_code=COMMUNE, tax_code="0201234567")]
    bad = [dict(code="K-3", name="Thôn 3", unit_type="khu_dan_cu", commune_code=COMMUNE, household_count="-3"),
           dict(code="D-4", name="Công ty 4", unit_type="doanh_nghiep", commune_code=COMMUNE, tax_code="02012345")]

    async def run(rows: list[pb.ImportRow], dry_run: bool) -> pb.ImportUnitsProgress:
        async def requests() -> AsyncIterator[pb.ImportUnitsRequest]:
            yield pb.ImportUnitsRequest(dry_run=dry_run, rows=rows, total_rows=len(rows), columns=columns,
                                        actor=OFFICER)
        return [m async for m in stub.ImportUnits(requests())][-1]

    before = stored_events(tmp_path)
    final = await run(import_rows(*good, *bad), dry_run=True)
    assert final.done and not final.committed
    assert [(e.row_number, e.column, e.reason) for e in final.errors] == [
        (4, "Số hộ gia đình", "INVALID_HOUSEHOLD_COUNT"), (5, "Mã số thuế", "INVALID_TAX_CODE")]
    assert stored_events(tmp_path) == before
    real = await run(import_rows(*good), dry_run=False)
    assert real.committed and real.imported == 2
    listed = await stub.ListUnits(pb.ListUnitsRequest(commune_code=COMMUNE))
    assert {u.code: (u.household_count, u.tax_code) for u in listed.units} == {"D-2": (0, "0201234567"),
                                                                               "K-1": (1250, "")}

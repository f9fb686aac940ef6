"""The registry's gRPC API over a real server: unit and area commands, queries, errors, import, reference loading.

Pre-2025 communes and their district are SYNTHETIC ("TEST-" codes; official old codes are not shipped); the
2025 side (phường Thành Đông 10507 in Hải Phòng 31, Hải Dương 30 merged into 31) is official reference data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from antt.common.v1 import actor_pb2
from antt.grpcx.errors import error_info
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.auth import AuthKit
from services.registry.application import Registry
from services.registry.main import build

pytestmark = pytest.mark.integration

OFFICER = actor_pb2.Actor(id="user:canbo-31", role="officer", tier="province", jurisdiction="31")
SYNTHETIC = "dữ liệu thử (mã tổng hợp) / synthetic test data"
NQ_1669 = "NQ 1669/NQ-UBTVQH15 Điều 1 khoản 28"
OLD_COMMUNES = {"TEST-CAM-THUONG": ("Phường Cẩm Thượng", "phuong"), "TEST-BINH-HAN": ("Phường Bình Hàn", "phuong"),
                "TEST-NGUYEN-TRAI": ("Phường Nguyễn Trãi", "phuong"), "TEST-AN-THUONG": ("Xã An Thượng", "xa")}


async def start_registry(tmp_path: Path, nats_server: NatsServer, explicit_url: bool = True,
                         auth: AuthKit | None = None) -> Service:
    env = {"ANTT_NATS_URL": nats_server.url, "ANTT_REGISTRY_GRPC_PORT": "0", "ANTT_DATA_DIR": str(tmp_path / "var"),
           **(auth.env if auth else {})}
    if explicit_url:
        env["ANTT_REGISTRY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'registry.db'}"
    service = build(ServiceSettings.from_env("registry", env))
    await service.start(Roles(metrics=False))
    return service


@pytest.fixture
async def stub(auth_kit: AuthKit, tmp_path: Path, nats_server: NatsServer,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[pb_grpc.RegistryServiceStub]:
    """A registry whose store holds the reference tree with the communes of Hải Phòng (31) and Hà Nội (01)."""
    monkeypatch.setenv("ANTT_REGISTRY_REFERENCE_TREE", "31,01")
    service = await start_registry(tmp_path, nats_server, auth=auth_kit)
    await asyncio.wait_for(service.reference_loaded.wait(), 60)  # type: ignore[attr-defined]
    officer = auth_kit.token("ministry_operator", "bo", subject=OFFICER.id)  # events record the token's subject
    async with auth_kit.aio_channel(f"127.0.0.1:{service.grpc_port}", officer) as channel:
        yield pb_grpc.RegistryServiceStub(channel)
    await service.stop()


def stored_events(tmp_path: Path) -> int:
    app = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


async def refused(call: Awaitable[Any], code: grpc.StatusCode, reason: str, field: str) -> None:
    """The call fails with this status, reason code and field, with Vietnamese and English text."""
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call
    assert failure.value.code() == code, failure.value.details()
    info = error_info(failure.value)
    assert info is not None and info.reason == reason, info
    assert info.metadata["vi"] and info.metadata["en"] and info.metadata["vi"] != info.metadata["en"]
    status = rpc_status.from_call(failure.value)
    bad = error_details_pb2.BadRequest()
    [d for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR)][0].Unpack(bad)
    assert bad.field_violations[0].field == field


async def old_district(stub: pb_grpc.RegistryServiceStub) -> None:
    """A synthetic pre-2025 district of Hải Dương (30) with the four communes later merged into 10507."""
    await stub.CreateArea(pb.CreateAreaRequest(level="district", code="TEST-HD", name="Thành phố Hải Dương",
                                               kind="thanh_pho", parent_code="30", legal_basis=SYNTHETIC,
                                               actor=OFFICER))
    for code, (name, kind) in OLD_COMMUNES.items():
        await stub.CreateArea(pb.CreateAreaRequest(level="commune", code=code, name=name, kind=kind,
                                                   parent_code="TEST-HD", parent_level="district",
                                                   legal_basis=SYNTHETIC, actor=OFFICER))


async def reorganise(stub: pb_grpc.RegistryServiceStub) -> None:
    await stub.MergeAreas(pb.MergeAreasRequest(level="commune", source_codes=list(OLD_COMMUNES), target_code="10507",
                                               effective_date="2025-07-01", legal_basis=NQ_1669, actor=OFFICER))
    await stub.AbolishArea(pb.AbolishAreaRequest(level="district", code="TEST-HD", effective_date="2025-07-01",
                                                 legal_basis=SYNTHETIC, actor=OFFICER))


async def test_a_2024_unit_follows_the_2025_reorganisation_without_re_registration(
        stub: pb_grpc.RegistryServiceStub) -> None:
    await old_district(stub)
    reply = await stub.RegisterUnit(pb.RegisterUnitRequest(
        code="DEMO-KDC-1", name="Khu dân cư số 1", unit_type="khu_dan_cu", province_code="30",
        commune_code="TEST-CAM-THUONG", effective_date="2024-03-01", actor=OFFICER))
    await reorganise(stub)

    june = await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-06-15", province_code="30"))
    assert [(u.code, u.place.commune_code, u.place.province_code) for u in june.units] == \
        [("DEMO-KDC-1", "TEST-CAM-THUONG", "30")]
    assert not (await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-06-15", province_code="31"))).units
    july = await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-07-15", province_code="31"))
    assert [(u.code, u.place.commune_code, u.place.province_code, u.place.exact) for u in july.units] == \
        [("DEMO-KDC-1", "10507", "31", True)]
    assert [u.code for u in (await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-07-15",
                                                                      commune_code="10507"))).units] == ["DEMO-KDC-1"]

    history = await stub.GetUnitHistory(pb.GetUnitHistoryRequest(unit_id=reply.unit_id))
    assert [(e.event_type, e.version, e.actor.id, e.effective_date) for e in history.entries] == \
        [("Registered", 1, "user:canbo-31", "2024-03-01")]
    assert history.entries[0].recorded_at and history.entries[0].details["code"] == "DEMO-KDC-1"
    assert [(p.effective_from, p.commune_code, p.province_code) for p in history.places] == \
        [("2024-03-01", "TEST-CAM-THUONG", "30"), ("2025-07-01", "10507", "31")]


async def test_the_tree_on_a_date_the_crosswalk_and_get_area(stub: pb_grpc.RegistryServiceStub) -> None:
    await old_district(stub)
    await reorganise(stub)
    june = await stub.ListAreas(pb.ListAreasRequest(as_of="2025-06-15", parent_code="TEST-HD"))
    assert sorted(a.code for a in june.areas) == sorted(OLD_COMMUNES)
    july_provinces = await stub.ListAreas(pb.ListAreasRequest(as_of="2025-07-15", level="province"))
    assert len(july_provinces.areas) == 34
    june_provinces = await stub.ListAreas(pb.ListAreasRequest(as_of="2025-06-15", level="province"))
    assert len(june_provinces.areas) == 63
    resolved = await stub.ResolveAreaCode(pb.ResolveAreaCodeRequest(level="commune", code="TEST-AN-THUONG",
                                                                    as_of="2025-07-15"))
    assert [a.code for a in resolved.areas] == ["10507"] and resolved.exact
    assert resolved.areas[0].parent_code == "31"
    province = await stub.ResolveAreaCode(pb.ResolveAreaCodeRequest(level="province", code="30", as_of="2025-08-01"))
    assert [a.code for a in province.areas] == ["31"]
    area = await stub.GetArea(pb.GetAreaRequest(level="commune", code="10507"))
    assert (area.name, area.kind, area.parent_code, area.established_on) == \
        ("Phường Thành Đông", "phuong", "31", "2025-07-01")
    assert sorted(area.formed_from) == sorted(OLD_COMMUNES)
    await refused(stub.GetArea(pb.GetAreaRequest(level="province", code="30", as_of="2025-07-15")),
                  grpc.StatusCode.FAILED_PRECONDITION, "AREA_NOT_IN_FORCE", "as_of")


async def test_list_areas_is_paginated_in_a_stable_order(stub: pb_grpc.RegistryServiceStub) -> None:
    seen: list[str] = []
    token = ""
    while True:
        page = await stub.ListAreas(pb.ListAreasRequest(as_of="2025-08-01", level="commune", parent_code="31",
                                                        page_size=40, page_token=token))
        seen.extend(a.code for a in page.areas)
        token = page.next_page_token
        if not token:
            break
    everything = await stub.ListAreas(pb.ListAreasRequest(as_of="2025-08-01", level="commune", parent_code="31"))
    assert seen == [a.code for a in everything.areas] and len(seen) > 40 and seen == sorted(seen)


async def test_unit_commands_update_declare_move_close_and_their_history(stub: pb_grpc.RegistryServiceStub) -> None:
    reg = await stub.RegisterUnit(pb.RegisterUnitRequest(
        code="DN-0100109106", name="Công ty TNHH Minh Phát", unit_type="doanh_nghiep", province_code="01",
        commune_code="00145", effective_date="2025-08-01", actor=OFFICER))
    updated = await stub.UpdateUnit(pb.UpdateUnitRequest(unit_id=reg.unit_id, name="Công ty CP Minh Phát",
                                                         contact_email="an-ninh@minhphat.example.vn",
                                                         managing_authority="00145", actor=OFFICER))
    assert (updated.name, updated.contact_email, updated.managing_authority) == \
        ("Công ty CP Minh Phát", "an-ninh@minhphat.example.vn", "00145")
    assert updated.eligibility.reason_code == "ENTERPRISE_SIZE_NOT_DECLARED"
    declared = await stub.DeclareEligibilityFacts(pb.DeclareEligibilityFactsRequest(
        unit_id=reg.unit_id, facts=pb.EligibilityFacts(size_class="vua", size_declared_on="2025-09-01"),
        effective_date="2025-09-01", actor=OFFICER))
    assert declared.eligibility.eligible and declared.eligibility.reason_code == "ELIGIBLE_MEDIUM_ENTERPRISE"
    moved = await stub.MoveUnit(pb.MoveUnitRequest(unit_id=reg.unit_id, province_code="31", commune_code="11948",
                                                   effective_date="2025-10-01", actor=OFFICER))
    assert (moved.place.province_code, moved.place.commune_code) == ("31", "11948")
    closed = await stub.CloseUnit(pb.CloseUnitRequest(unit_id=reg.unit_id, reason="dissolved",
                                                      effective_date="2025-11-01", actor=OFFICER))
    assert (closed.status, closed.closed_on, closed.closure_reason) == ("cham_dut", "2025-11-01", "dissolved")
    await refused(stub.MoveUnit(pb.MoveUnitRequest(unit_id=reg.unit_id, province_code="01", commune_code="00145",
                                                   effective_date="2025-12-01", actor=OFFICER)),
                  grpc.StatusCode.FAILED_PRECONDITION, "UNIT_CLOSED", "unit_id")

    history = await stub.GetUnitHistory(pb.GetUnitHistoryRequest(unit_id=reg.unit_id))
    assert [(e.event_type, e.effective_date) for e in history.entries] == [
        ("Registered", "2025-08-01"), ("Updated", ""), ("EligibilityFactsDeclared", "2025-09-01"),
        ("Moved", "2025-10-01"), ("Closed", "2025-11-01")]
    assert {e.actor.id for e in history.entries} == {"user:canbo-31"}
    assert [(p.effective_from, p.commune_code) for p in history.places] == \
        [("2025-08-01", "00145"), ("2025-10-01", "11948")]
    in_october = await stub.GetUnit(pb.GetUnitRequest(unit_id=reg.unit_id, as_of="2025-10-15"))
    assert (in_october.status, in_october.place.commune_code) == ("hoat_dong", "11948")
    closed_list = await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-12-01", status="cham_dut"))
    assert [u.code for u in closed_list.units] == ["DN-0100109106"]
    assert not (await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-12-01"))).units


async def test_out_of_scope_units_are_registered_with_their_reason_codes(stub: pb_grpc.RegistryServiceStub) -> None:
    cases = {
        "DN-NHO": ("Công ty TNHH Hoa Sen", "doanh_nghiep",
                   pb.EligibilityFacts(size_class="nho", size_declared_on="2025-08-01"), "OUT_OF_SCOPE_SMALL_ENTERPRISE"),
        "TH-01": ("Trường Tiểu học Long Biên", "co_so_giao_duc", pb.EligibilityFacts(school_levels=["tieu_hoc"]),
                  "OUT_OF_SCOPE_PRIMARY_SCHOOL"),
        "CQ-QS": ("Ban Chỉ huy quân sự phường", "co_quan", pb.EligibilityFacts(armed_forces=True),
                  "OUT_OF_SCOPE_ARMED_FORCES_AGENCY"),
    }
    for code, (name, unit_type, facts, _) in cases.items():
        await stub.RegisterUnit(pb.RegisterUnitRequest(code=code, name=name, unit_type=unit_type, province_code="01",
                                                       commune_code="00145", effective_date="2025-08-01",
                                                       facts=facts, actor=OFFICER))
    await stub.RegisterUnit(pb.RegisterUnitRequest(code="KDC-1", name="Tổ dân phố số 1", unit_type="khu_dan_cu",
                                                   province_code="01", commune_code="00145",
                                                   effective_date="2025-08-01", actor=OFFICER))
    out = await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-09-01", eligibility="ngoai_pham_vi"))
    assert {u.code: u.eligibility.reason_code for u in out.units} == {c: v[3] for c, v in cases.items()}
    assert all(u.eligibility.explanation_vi and u.eligibility.explanation_en for u in out.units)
    eligible = await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-09-01", eligibility="thuoc_pham_vi"))
    assert [u.code for u in eligible.units] == ["KDC-1"]
    schools = await stub.ListUnits(pb.ListUnitsRequest(as_of="2025-09-01", unit_type="co_so_giao_duc"))
    assert [u.code for u in schools.units] == ["TH-01"]


async def test_list_units_pages_in_a_stable_order(stub: pb_grpc.RegistryServiceStub) -> None:
    for n in (5, 3, 7, 1, 6, 2, 4):
        await stub.RegisterUnit(pb.RegisterUnitRequest(code=f"KDC-{n:02d}", name=f"Thôn {n}", unit_type="khu_dan_cu",
                                                       province_code="31", commune_code="11948", actor=OFFICER))
    codes, token, pages = [], "", 0
    while True:
        page = await stub.ListUnits(pb.ListUnitsRequest(page_size=3, page_token=token, province_code="31"))
        codes += [u.code for u in page.units]
        pages, token = pages + 1, page.next_page_token
        if not token:
            break
    assert codes == [f"KDC-{n:02d}" for n in range(1, 8)] and pages == 3
    await refused(stub.ListUnits(pb.ListUnitsRequest(page_token="not-a-token")), grpc.StatusCode.INVALID_ARGUMENT,
                  "INVALID_ARGUMENT", "page_token")
    await refused(stub.ListUnits(pb.ListUnitsRequest(status="sleeping")), grpc.StatusCode.INVALID_ARGUMENT,
                  "INVALID_ARGUMENT", "status")


async def test_bad_area_commands_get_clear_errors_and_write_nothing(stub: pb_grpc.RegistryServiceStub,
                                                                    tmp_path: Path) -> None:
    await old_district(stub)
    before = stored_events(tmp_path)
    create = dict(level="commune", code="TEST-NEW", name="Xã Mới", kind="xa", parent_code="31",
                  effective_date="2025-08-01", legal_basis=SYNTHETIC, actor=OFFICER)
    cases: list[tuple[Awaitable[Any], grpc.StatusCode, str, str]] = [
        (stub.CreateArea(pb.CreateAreaRequest(**{**create, "parent_code": "99"})), grpc.StatusCode.NOT_FOUND,
         "AREA_NOT_FOUND", "parent_code"),
        (stub.CreateArea(pb.CreateAreaRequest(**{**create, "code": "10507"})), grpc.StatusCode.ALREADY_EXISTS,
         "AREA_ALREADY_EXISTS", "code"),
        (stub.CreateArea(pb.CreateAreaRequest(**{**create, "name": " "})), grpc.StatusCode.INVALID_ARGUMENT,
         "INVALID_AREA_FIELD", "name"),
        (stub.CreateArea(pb.CreateAreaRequest(**{**create, "name": "Xã\x00Mới"})), grpc.StatusCode.INVALID_ARGUMENT,
         "REQUEST_CONTROL_CHARACTER", "name"),  # refused by the kernel's request validation
        (stub.RenameArea(pb.RenameAreaRequest(level="commune", code="10507", name="Phường Mới",
                                              effective_date="2025-01-01", legal_basis=SYNTHETIC, actor=OFFICER)),
         grpc.StatusCode.FAILED_PRECONDITION, "EFFECTIVE_DATE_BEFORE_AREA_EXISTED", "effective_date"),
        (stub.MergeAreas(pb.MergeAreasRequest(level="commune", source_codes=["TEST-BINH-HAN", "10507"],
                                              target_code="10507", effective_date="2025-07-01",
                                              legal_basis=NQ_1669, actor=OFFICER)),
         grpc.StatusCode.FAILED_PRECONDITION, "AREA_MERGED_INTO_ITSELF", "target_code"),
        (stub.MergeAreas(pb.MergeAreasRequest(level="commune", source_codes=["TEST-NOWHERE"], target_code="10507",
                                              effective_date="2025-07-01", legal_basis=NQ_1669, actor=OFFICER)),
         grpc.StatusCode.NOT_FOUND, "AREA_NOT_FOUND", "source_codes"),
        (stub.RenameArea(pb.RenameAreaRequest(level="commune", code="10507", name="Phường Mới",
                                              legal_basis=SYNTHETIC, actor=OFFICER)),
         grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", "effective_date"),
        (stub.RegisterUnit(pb.RegisterUnitRequest(code="X-1", name="Thôn 1", unit_type="khu_dan_cu",
                                                  province_code="31", commune_code="10507",
                                                  effective_date="2025-06-30")),
         grpc.StatusCode.FAILED_PRECONDITION, "AREA_NOT_IN_FORCE", "commune_code"),
        (stub.GetUnit(pb.GetUnitRequest(unit_id="00000000-0000-0000-0000-000000000000")),
         grpc.StatusCode.NOT_FOUND, "UNIT_NOT_FOUND", "unit_id"),
    ]
    for call, code, reason, field in cases:
        await refused(call, code, reason, field)
    assert stored_events(tmp_path) == before


async def test_merging_a_unit_into_itself_is_a_failed_precondition(stub: pb_grpc.RegistryServiceStub) -> None:
    reg = await stub.RegisterUnit(pb.RegisterUnitRequest(code="KDC-A", name="Thôn A", unit_type="khu_dan_cu",
                                                         province_code="31", commune_code="11948",
                                                         effective_date="2025-08-01"))
    await refused(stub.CloseUnit(pb.CloseUnitRequest(unit_id=reg.unit_id, reason="merged", successor_code="KDC-A",
                                                     effective_date="2025-09-01")),
                  grpc.StatusCode.FAILED_PRECONDITION, "UNIT_MERGED_INTO_ITSELF", "successor_code")


def import_rows(*rows: dict[str, str]) -> list[pb.ImportRow]:
    return [pb.ImportRow(row_number=n, **r) for n, r in enumerate(rows, start=2)]


async def test_import_dry_run_reports_every_bad_row_then_the_real_run_commits_all(
        stub: pb_grpc.RegistryServiceStub, tmp_path: Path) -> None:
    good = [dict(code=f"IMP-{n}", name=f"Thôn {n}", unit_type="Khu dân cư", commune_code="11948") for n in range(4)]
    bad = [dict(code="IMP-9", name="Thôn 9", unit_type="khu_dan_cu", commune_code="99999"),
           dict(code="IMP-0", name="Thôn lặp", unit_type="khu_dan_cu", commune_code="11948"),
           dict(code="IMP-8", name="", unit_type="khu_dan_cu", commune_code="11948"),
           dict(code="IMP-7", name="Thôn\x07 7", unit_type="khu_dan_cu", commune_code="11948")]  # a row error, not a refusal
    columns = {"code": "Mã đơn vị", "name": "Tên đơn vị", "unit_type": "Loại", "commune_code": "Mã xã"}
    before = stored_events(tmp_path)

    async def run(rows: list[pb.ImportRow], dry_run: bool) -> list[pb.ImportUnitsProgress]:
        async def requests() -> AsyncIterator[pb.ImportUnitsRequest]:
            for start in range(0, len(rows), 2):
                yield pb.ImportUnitsRequest(dry_run=dry_run, rows=rows[start:start + 2], total_rows=len(rows),
                                            columns=columns, actor=OFFICER)
        return [m async for m in stub.ImportUnits(requests())]

    replies = await run(import_rows(*good, *bad), dry_run=False)
    final = replies[-1]
    assert final.done and not final.committed and final.bad_rows == 4
    assert [(e.row_number, e.column, e.reason) for e in final.errors] == [
        (6, "Mã xã", "UNKNOWN_AREA"), (7, "Mã đơn vị", "DUPLICATE_CODE_IN_FILE"), (8, "Tên đơn vị", "INVALID_UNIT_FIELD"),
        (9, "Tên đơn vị", "INVALID_UNIT_FIELD")]
    assert all(e.message_vi and e.message_en for e in final.errors)
    assert [r.rows_checked for r in replies[:-1]] == [2, 4, 6, 8]
    assert stored_events(tmp_path) == before

    dry = (await run(import_rows(*good), dry_run=True))[-1]
    assert dry.done and dry.dry_run and not dry.committed and not dry.errors
    assert stored_events(tmp_path) == before

    real = (await run(import_rows(*good), dry_run=False))[-1]
    assert real.committed and real.imported == 4
    listed = await stub.ListUnits(pb.ListUnitsRequest(commune_code="11948"))
    assert [(u.code, u.unit_type, u.province_code) for u in listed.units] == \
        [(f"IMP-{n}", "khu_dan_cu", "31") for n in range(4)]

    again = (await run(import_rows(*good), dry_run=True))[-1]
    assert {e.reason for e in again.errors} == {"UNIT_ALREADY_REGISTERED"} and len(again.errors) == 4


async def test_the_import_command_reads_a_csv_reports_bad_rows_and_imports(
        tmp_path: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch, auth_kit: AuthKit) -> None:
    import io

    from services.registry.importing.cli import run_import

    monkeypatch.setenv("ANTT_REGISTRY_REFERENCE_TREE", "none")
    service = await start_registry(tmp_path, nats_server, auth=auth_kit)  # antt import signs with the same keys
    target = f"127.0.0.1:{service.grpc_port}"
    bad_file, good_file = tmp_path / "bad.csv", tmp_path / "good.csv"
    header = "Mã đơn vị,Tên đơn vị,Loại,Mã tỉnh,Mã xã,Ghi chú\n"
    bad_file.write_text(header + "CSV-1,Thôn 1,Khu dân cư,31,11948,\nCSV-2,Thôn 2,Khu dân cư,31,00145,sai tỉnh\n",
                        encoding="utf-8")
    good_file.write_text(header + "CSV-1,Thôn 1,Khu dân cư,31,11948,\nCSV-2,Thôn 2,Khu dân cư,01,00145,\n",
                         encoding="utf-8")
    try:
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(run_import, str(bad_file), True, target, out, err)
        assert code == 1 and "dòng / row 3, cột / column 'Mã xã'" in out.getvalue() and "[UNKNOWN_AREA]" in out.getvalue()
        assert "Ghi chú" in err.getvalue() and "2/2" in err.getvalue()  # ignored column named; the bar finished
        out = io.StringIO()
        assert await asyncio.to_thread(run_import, str(good_file), True, target, out, io.StringIO()) == 0
        assert "nothing written" in out.getvalue() and stored_events(tmp_path) == 0
        out = io.StringIO()
        assert await asyncio.to_thread(run_import, str(good_file), False, target, out, io.StringIO()) == 0
        assert "imported 2 units" in out.getvalue() and stored_events(tmp_path) == 2
        err = io.StringIO()
        assert await asyncio.to_thread(run_import, str(tmp_path / "none.xlsx"), False, target, io.StringIO(), err) == 2
        assert "not found" in err.getvalue()
    finally:
        await service.stop()


async def test_the_import_command_imports_areas(auth_kit: AuthKit, tmp_path: Path, nats_server: NatsServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from services.registry.importing.cli import run_import

    monkeypatch.setenv("ANTT_REGISTRY_REFERENCE_TREE", "31")
    service = await start_registry(tmp_path, nats_server, auth=auth_kit)
    await asyncio.wait_for(service.reference_loaded.wait(), 60)  # type: ignore[attr-defined]
    target = f"127.0.0.1:{service.grpc_port}"
    areas = tmp_path / "areas.csv"
    areas.write_text("Cấp,Mã,Tên,Loại,Mã đơn vị cấp trên,Cấp trên,Căn cứ pháp lý\n"
                     f"huyện,TEST-HD,Thành phố Hải Dương,thành phố,30,,{SYNTHETIC}\n"
                     f"xã,TEST-AN-THUONG,Xã An Thượng,xã,TEST-HD,huyện,{SYNTHETIC}\n", encoding="utf-8")
    try:
        out = io.StringIO()
        assert await asyncio.to_thread(run_import, str(areas), False, target, out, io.StringIO(), "areas") == 0
        assert "imported 2 areas" in out.getvalue()
        async with auth_kit.aio_channel(target) as channel:
            area = await pb_grpc.RegistryServiceStub(channel).GetArea(
                pb.GetAreaRequest(level="commune", code="TEST-AN-THUONG", as_of="2025-06-01"))
        assert (area.name, area.parent_level, area.parent_code) == ("Xã An Thượng", "district", "TEST-HD")
    finally:
        await service.stop()


async def test_reference_tree_is_loaded_once_when_the_store_has_no_areas(
        tmp_path: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTT_REGISTRY_REFERENCE_TREE", "31")
    for _ in range(2):
        service = await start_registry(tmp_path, nats_server)
        await asyncio.wait_for(service.reference_loaded.wait(), 60)  # type: ignore[attr-defined]
        await service.stop()
        app = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
        histories = app.area_histories()
        count = app.recorder.max_notification_id()
        app.close()
        assert sum(1 for k in histories if k.level.value == "province") == 63
        assert {k.code for k in histories if k.level.value == "commune"} >= {"11948", "10507"}
        if _ == 0:
            first = count
    assert count == first  # the second start added nothing


async def test_the_tree_is_loaded_only_when_asked(
        tmp_path: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTT_REGISTRY_REFERENCE_TREE", raising=False)
    service = await start_registry(tmp_path, nats_server, explicit_url=True)  # the default: none
    await asyncio.wait_for(service.reference_loaded.wait(), 60)  # type: ignore[attr-defined]
    await service.stop()
    assert stored_events(tmp_path) == 0
    (tmp_path / "var").mkdir(exist_ok=True)  # the first start made var/keys (the development token key)
    monkeypatch.setenv("ANTT_REGISTRY_REFERENCE_TREE", "all")  # as `antt dev` runs it
    service = await start_registry(tmp_path, nats_server, explicit_url=False)
    await asyncio.wait_for(service.reference_loaded.wait(), 60)  # type: ignore[attr-defined]
    await service.stop()
    app = Registry(f"sqlite:///{tmp_path / 'var' / 'registry.db'}")
    try:
        assert len(app.tree_as_of(date(2025, 8, 1), "commune")) == 3321
        assert len(app.tree_as_of(date(2025, 8, 1), "province")) == 34
    finally:
        app.close()

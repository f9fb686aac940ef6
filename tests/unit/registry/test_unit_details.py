"""Household count (khu dân cư) and tax code (doanh nghiệp): rules, events, published form and import columns."""

from __future__ import annotations

import sys
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from antt.errors import ErrorKind
from antt.events.v1 import registry_pb2 as pb
from services.registry.application import Registry
from services.registry.domain.details import parse_household_cell
from services.registry.domain.errors import InvalidUnitFieldError
from services.registry.domain.unit import Unit, clean_text
from services.registry.importing.columns import field_for
from services.registry.importing.reader import RawRow, read_file
from services.registry.importing.validate import UnitImport

from .conftest import OFFICER
from .test_published import published
from .test_registry_areas import refused

pytestmark = pytest.mark.unit

D1 = date(2025, 8, 1)
INVALID = ErrorKind.INVALID_ARGUMENT


def event_names(app: Registry, unit: Unit) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(unit.id)]


def test_details_are_declared_right_after_registration_and_kept(app: Registry) -> None:
    village = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", OFFICER, D1, household_count=215)
    firm = app.register_unit("DN-1", "Công ty CP Minh Phát", "doanh_nghiep", "31", "11948", OFFICER, D1,
                             tax_code=" 0101234567-001 ")
    plain = app.register_unit("KDC-2", "Thôn Tây", "khu_dan_cu", "31", "11948", OFFICER, D1)
    assert event_names(app, village) == ["Registered", "DetailsDeclared"]
    assert event_names(app, plain) == ["Registered"]
    assert app.get_unit(village.id).household_count == 215 and app.get_unit(village.id).tax_code == ""
    assert app.get_unit(firm.id).tax_code == "0101234567-001" and app.get_unit(firm.id).household_count is None
    assert app.get_unit(plain.id).household_count is None
    zero = app.register_unit("KDC-3", "Tổ dân phố mới", "khu_dan_cu", "31", "11948", OFFICER, D1, household_count=0)
    assert app.get_unit(zero.id).household_count == 0


@pytest.mark.parametrize(("unit_type", "kwargs", "reason"), [
    ("co_quan", {"household_count": 10}, "HOUSEHOLD_COUNT_NOT_APPLICABLE"),
    ("doanh_nghiep", {"household_count": 10}, "HOUSEHOLD_COUNT_NOT_APPLICABLE"),
    ("khu_dan_cu", {"household_count": -1}, "INVALID_HOUSEHOLD_COUNT"),
    ("khu_dan_cu", {"household_count": True}, "INVALID_HOUSEHOLD_COUNT"),
    ("khu_dan_cu", {"tax_code": "0101234567"}, "TAX_CODE_NOT_APPLICABLE"),
    ("co_so_giao_duc", {"tax_code": "0101234567"}, "TAX_CODE_NOT_APPLICABLE"),
    ("doanh_nghiep", {"tax_code": "010123456"}, "INVALID_TAX_CODE"),
    ("doanh_nghiep", {"tax_code": "0101234567-01"}, "INVALID_TAX_CODE"),
    ("doanh_nghiep", {"tax_code": "0101234567001"}, "INVALID_TAX_CODE"),
    ("doanh_nghiep", {"tax_code": "01012345AB"}, "INVALID_TAX_CODE"),
])
def test_a_detail_of_the_wrong_type_or_format_is_refused_and_nothing_stored(
        app: Registry, unit_type: str, kwargs: dict[str, object], reason: str) -> None:
    error = refused(app, lambda: app.register_unit("U-1", "Đơn vị", unit_type, "31", "11948", OFFICER, D1,
                                                   **kwargs),  # type: ignore[arg-type]
                    reason, INVALID)
    assert error.field in kwargs


def test_update_changes_details_with_or_without_other_fields(app: Registry) -> None:
    village = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", OFFICER, D1, household_count=215)
    app.update_unit(village.id, OFFICER, household_count=230)
    assert event_names(app, village)[-1] == "DetailsDeclared" and app.get_unit(village.id).household_count == 230
    app.update_unit(village.id, OFFICER, name="Thôn Đông Mới", household_count=231)
    assert event_names(app, village)[-2:] == ["Updated", "DetailsDeclared"]
    assert (app.get_unit(village.id).name, app.get_unit(village.id).household_count) == ("Thôn Đông Mới", 231)
    # a bad detail refuses the whole update: the name does not change either
    refused(app, lambda: app.update_unit(village.id, OFFICER, name="Tên khác", tax_code="0101234567"),
            "TAX_CODE_NOT_APPLICABLE", INVALID)
    assert app.get_unit(village.id).name == "Thôn Đông Mới"
    firm = app.register_unit("DN-1", "Công ty A", "doanh_nghiep", "31", "11948", OFFICER, D1)
    app.update_unit(firm.id, OFFICER, tax_code="0312345678")
    assert app.get_unit(firm.id).tax_code == "0312345678"
    refused(app, lambda: app.update_unit(firm.id, OFFICER, tax_code="123"), "INVALID_TAX_CODE", INVALID)
    app.update_unit(firm.id, OFFICER, tax_code="")
    assert app.get_unit(firm.id).tax_code == ""
    versions = app.get_unit(firm.id).version
    app.update_unit(firm.id, OFFICER, tax_code="")  # no change, no event
    assert app.get_unit(firm.id).version == versions


def test_closed_unit_details_cannot_change(app: Registry) -> None:
    village = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", OFFICER, D1)
    app.close_unit(village.id, "dissolved", date(2025, 9, 1), OFFICER)
    refused(app, lambda: app.update_unit(village.id, OFFICER, household_count=3), "UNIT_CLOSED",
            ErrorKind.FAILED_PRECONDITION)


def test_details_are_published_and_carried_by_unit_updated() -> None:
    app = Registry()
    unit = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", OFFICER, D1, household_count=215)
    app.update_unit(unit.id, OFFICER, contact_email="thondong@example.vn")
    firm = app.register_unit("DN-1", "Công ty A", "doanh_nghiep", "31", "11948", OFFICER, D1)
    app.update_unit(firm.id, OFFICER, name="Công ty A mới")
    messages = published(app)
    assert [s for s, _ in messages] == [
        "antt.registry.v1.UnitRegistered.31.11948", "antt.registry.v1.UnitDetailsDeclared.31.11948",
        "antt.registry.v1.UnitUpdated.31.11948", "antt.registry.v1.UnitRegistered.31.11948",
        "antt.registry.v1.UnitUpdated.31.11948"]
    declared, updated, firm_updated = messages[1][1], messages[2][1], messages[4][1]
    assert isinstance(declared, pb.UnitDetailsDeclared)
    assert (declared.code, declared.unit_type, declared.household_count, declared.tax_code) == \
        ("KDC-1", "khu_dan_cu", 215, "")
    assert declared.meta.aggregate_version == 2 and declared.meta.actor.id == OFFICER.id
    assert isinstance(updated, pb.UnitUpdated) and updated.household_count == 215
    assert isinstance(firm_updated, pb.UnitUpdated) and not firm_updated.HasField("household_count")


def test_import_columns_for_household_count_and_tax_code() -> None:
    for header in ("Số hộ", "Số hộ gia đình", "so ho gia dinh", "household_count", "Household count"):
        assert field_for(header) == "household_count", header
    for header in ("Mã số thuế", "MST", "mst", "tax_code", "Tax code"):
        assert field_for(header) == "tax_code", header
    assert [parse_household_cell(t) for t in ("", "120", "1.234", "1,234", "12.0")] == [None, 120, 1234, 1234, 12]


def test_xlsx_tax_code_stored_as_a_number_gets_its_leading_zero_back(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Mã đơn vị", "Tên đơn vị", "Loại", "Mã xã", "Số hộ", "MST"])
    sheet.append(["DN-1", "Công ty A", "doanh_nghiep", 11948, None, 101234567])
    sheet.append(["KDC-1", "Thôn 1", "khu_dan_cu", 11948, 215.0, None])
    book.save(tmp_path / "units.xlsx")
    values = [r.values for r in read_file(tmp_path / "units.xlsx").rows]
    assert values[0]["tax_code"] == "0101234567" and values[1]["household_count"] == "215"


COLUMNS = {"code": "Mã đơn vị", "name": "Tên đơn vị", "unit_type": "Loại", "commune_code": "Mã xã",
           "household_count": "Số hộ", "tax_code": "MST"}


def test_import_dry_run_reports_bad_details_per_row_and_column_then_a_good_file_commits(app: Registry) -> None:
    session = UnitImport(app, OFFICER, COLUMNS)
    session.check([RawRow(n, v) for n, v in enumerate([
        {"code": "K-1", "name": "Thôn 1", "unit_type": "khu_dan_cu", "commune_code": "11948", "household_count": "-5"},
        {"code": "K-2", "name": "Thôn 2", "unit_type": "khu_dan_cu", "commune_code": "11948",
         "household_count": "nhiều"},
        {"code": "C-3", "name": "Cơ quan 3", "unit_type": "co_quan", "commune_code": "11948", "household_count": "12"},
        {"code": "D-4", "name": "Công ty 4", "unit_type": "doanh_nghiep", "commune_code": "11948", "tax_code": "12-3"},
        {"code": "K-5", "name": "Thôn 5", "unit_type": "khu_dan_cu", "commune_code": "11948", "tax_code": "0101234567"},
        {"code": "K-6", "name": "Thôn 6", "unit_type": "khu_dan_cu", "commune_code": "11948", "household_count": "300"},
    ], start=2)])
    assert [(p.row_number, p.column, p.reason) for p in session.problems] == [
        (2, "Số hộ", "INVALID_HOUSEHOLD_COUNT"), (3, "Số hộ", "INVALID_HOUSEHOLD_COUNT"),
        (4, "Số hộ", "HOUSEHOLD_COUNT_NOT_APPLICABLE"), (5, "MST", "INVALID_TAX_CODE"),
        (6, "MST", "TAX_CODE_NOT_APPLICABLE")]
    assert all(p.message_vi and p.message_en for p in session.problems)
    assert app.recorder.max_notification_id() in (None, 0)
    good = UnitImport(app, OFFICER, COLUMNS)
    good.check([RawRow(2, {"code": "K-1", "name": "Thôn 1", "unit_type": "Khu dân cư", "commune_code": "11948",
                           "household_count": "1.234"}),
                RawRow(3, {"code": "D-2", "name": "Công ty 2", "unit_type": "Doanh nghiệp", "commune_code": "11948",
                           "tax_code": "0101234567-002"})])
    assert good.problems == [] and good.commit() == 2
    units = {code: app.get_unit_by_code(code) for code in ("K-1", "D-2")}
    assert units["K-1"].household_count == 1234 and units["D-2"].tax_code == "0101234567-002"


def test_details_survive_a_reopened_store(database_urls: dict[str, str]) -> None:
    app = Registry(database_urls["registry"])
    try:
        village = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", OFFICER, D1,
                                    household_count=215)
        firm = app.register_unit("DN-1", "Công ty A", "doanh_nghiep", "31", "11948", OFFICER, D1,
                                 tax_code="0101234567-001")
        app.update_unit(firm.id, OFFICER, tax_code="0101234567")
    finally:
        app.close()
    again = Registry(database_urls["registry"])
    try:
        assert again.get_unit(village.id).household_count == 215
        assert (again.get_unit(firm.id).tax_code, again.get_unit(firm.id).household_count) == ("0101234567", None)
        assert again.verify_chains() == []
    finally:
        again.close()


def test_text_with_any_control_character_is_refused_and_any_other_character_kept() -> None:
    # Exhaustive over Unicode: exactly the characters of category Cc are refused (one regex, not a lookup per character).
    refused = []
    for point in range(sys.maxunicode + 1):
        try:
            clean_text(f"a{chr(point)}b", "name", "Tên", 10)
        except InvalidUnitFieldError:
            refused.append(point)
    assert refused == [p for p in range(sys.maxunicode + 1) if unicodedata.category(chr(p)) == "Cc"]

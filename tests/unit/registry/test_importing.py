"""Import parsing and validation: Vietnamese/English headers, cell values, every bad row, all-or-nothing commits."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from antt.errors import DomainError
from services.registry.application import Registry
from services.registry.domain.facts import SchoolLevel, SizeClass
from services.registry.importing.columns import field_for, map_headers, slug
from services.registry.importing.errors import ImportFileError
from services.registry.importing.reader import RawRow, cell_text, read_csv, read_file
from services.registry.importing.validate import UnitImport, parse_cell_date, parse_facts

from .conftest import OFFICER

pytestmark = pytest.mark.unit


def test_headers_are_recognised_in_vietnamese_with_or_without_diacritics_and_in_english() -> None:
    assert slug("Mã xã/phường") == "ma_xa_phuong"
    assert [field_for(h) for h in ("Mã đơn vị", "MÃ ĐƠN VỊ", "ma don vi", "Unit code", "code")] == ["code"] * 5
    assert [field_for(h) for h in ("Tên đơn vị", "Loại", "Mã tỉnh", "Mã xã", "Commune code")] == \
        ["name", "unit_type", "province_code", "commune_code", "commune_code"]
    assert field_for("Ghi chú") is None
    by_index, names, ignored = map_headers(["Mã đơn vị", "Tên đơn vị", "Ghi chú", "Loại", "Mã xã"])
    assert by_index == {0: "code", 1: "name", 3: "unit_type", 4: "commune_code"} and ignored == ["Ghi chú"]
    assert names["commune_code"] == "Mã xã"


@pytest.mark.parametrize(("headers", "field"), [
    (["Mã đơn vị", "Tên đơn vị", "Loại"], "commune_code"),
    (["Mã đơn vị", "Code", "Tên đơn vị", "Loại", "Mã xã"], "code"),
])
def test_a_missing_or_repeated_required_column_rejects_the_file(headers: list[str], field: str) -> None:
    with pytest.raises(ImportFileError) as failure:
        map_headers(headers)
    assert failure.value.field == field and failure.value.message_vi and failure.value.message_en


def test_cells_become_text_keeping_the_leading_zeros_of_official_codes() -> None:
    assert cell_text(145, "commune_code") == "00145" and cell_text(1.0, "province_code") == "01"
    assert cell_text(12345.0, "code") == "12345" and cell_text(None) == ""
    assert cell_text(datetime(2024, 3, 1, 0, 0)) == "2024-03-01" and cell_text(" Thôn 1 ") == "Thôn 1"
    assert parse_cell_date("01/03/2024", "effective_date") == date(2024, 3, 1)
    assert parse_cell_date("2024-03-01", "effective_date") == date(2024, 3, 1)
    with pytest.raises(DomainError) as failure:
        parse_cell_date("31/02/2024", "effective_date")
    assert failure.value.field == "effective_date"


def test_csv_with_bom_and_semicolons_is_read_with_file_row_numbers() -> None:
    data = "\ufeffMã đơn vị;Tên đơn vị;Loại;Mã xã\nA-1;Thôn 1;Khu dân cư;11948\n;;;\nA-2;Tổ dân phố 2;khu_dan_cu;00145\n"
    table = read_csv(data.encode("utf-8"))
    assert [(r.row_number, r.values["code"], r.values["commune_code"]) for r in table.rows] == \
        [(2, "A-1", "11948"), (4, "A-2", "00145")]


def test_xlsx_is_read_from_the_first_sheet(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Unit code", "Name", "Type", "Province", "Commune", "Effective date"])
    sheet.append(["B-1", "Cơ quan A", "co_quan", 1, 145, datetime(2025, 8, 1)])
    book.save(tmp_path / "units.xlsx")
    table = read_file(tmp_path / "units.xlsx")
    assert table.rows == [RawRow(2, {"code": "B-1", "name": "Cơ quan A", "unit_type": "co_quan",
                                     "province_code": "01", "commune_code": "00145",
                                     "effective_date": "2025-08-01"})]
    with pytest.raises(ImportFileError):
        read_file(tmp_path / "units.txt")


def test_facts_columns_accept_vietnamese_values() -> None:
    facts = parse_facts({"size_class": "Nhỏ", "size_declared_on": "01/08/2025"})
    assert facts is not None and facts.size_class is SizeClass.NHO and facts.size_declared_on == date(2025, 8, 1)
    school = parse_facts({"school_levels": "Tiểu học; THCS"})
    assert school is not None and school.school_levels == {SchoolLevel.TIEU_HOC, SchoolLevel.THCS}
    assert parse_facts({"armed_forces": "có"}).armed_forces  # type: ignore[union-attr]
    assert parse_facts({}) is None
    with pytest.raises(DomainError) as failure:
        parse_facts({"armed_forces": "có lẽ"})
    assert failure.value.field == "armed_forces"


def rows(*values: dict[str, str]) -> list[RawRow]:
    return [RawRow(n, v) for n, v in enumerate(values, start=2)]


COLUMNS = {"code": "Mã đơn vị", "name": "Tên đơn vị", "unit_type": "Loại", "commune_code": "Mã xã",
           "size_class": "Quy mô"}


def test_every_bad_row_is_reported_with_its_column_and_nothing_is_written(app: Registry) -> None:
    session = UnitImport(app, OFFICER, COLUMNS)
    session.check(rows(
        {"code": "K-1", "name": "Thôn 1", "unit_type": "Khu dân cư", "commune_code": "11948"},
        {"code": "K-2", "name": "Thôn 2", "unit_type": "khu_dan_cu", "commune_code": "99999"},
        {"code": "K-1", "name": "Thôn 1 lặp", "unit_type": "khu_dan_cu", "commune_code": "11948"},
        {"code": "K-4", "name": "Thôn\x07", "unit_type": "khu_dan_cu", "commune_code": "11948"},
        {"code": "D-5", "name": "Công ty A", "unit_type": "doanh_nghiep", "commune_code": "11948", "size_class": "to"},
        {"code": "K-6", "name": "Thôn 6", "unit_type": "khu_dan_cu", "commune_code": "11948",
         "contact_email": "khong-phai-email"},
    ))
    assert [(p.row_number, p.column, p.reason) for p in session.problems] == [
        (3, "Mã xã", "UNKNOWN_AREA"), (4, "Mã đơn vị", "DUPLICATE_CODE_IN_FILE"), (5, "Tên đơn vị", "INVALID_UNIT_FIELD"),
        (6, "Quy mô", "INVALID_UNIT_FIELD"), (7, "contact_email", "INVALID_UNIT_FIELD")]
    assert all(p.message_vi and p.message_en and p.message_vi != p.message_en for p in session.problems)
    with pytest.raises(ImportFileError):
        session.commit()
    assert app.recorder.max_notification_id() in (None, 0)


def test_a_good_file_commits_every_unit_at_once_with_province_derived_and_facts(app: Registry) -> None:
    session = UnitImport(app, OFFICER, COLUMNS)
    session.check(rows(
        {"code": "K-1", "name": "Thôn 1", "unit_type": "Khu dân cư", "commune_code": "11948",
         "effective_date": "01/08/2025"},
        {"code": "D-2", "name": "Công ty B", "unit_type": "Doanh nghiệp", "commune_code": "00145",
         "size_class": "vừa", "size_declared_on": "2025-08-01", "contact_email": "an-ninh@b.example.vn"},
    ))
    assert session.problems == [] and session.commit() == 2
    units = {code: app.get_unit_by_code(code) for code in ("K-1", "D-2")}
    assert (units["K-1"].province_code, units["K-1"].effective_date) == ("31", date(2025, 8, 1))
    assert units["D-2"].province_code == "01" and units["D-2"].contact_email == "an-ninh@b.example.vn"
    assert units["D-2"].facts_on(date.today()).size_class is SizeClass.VUA
    again = UnitImport(app, OFFICER, COLUMNS)
    again.check(rows({"code": "K-1", "name": "Thôn 1", "unit_type": "khu_dan_cu", "commune_code": "11948"}))
    assert [p.reason for p in again.problems] == ["UNIT_ALREADY_REGISTERED"]


def test_a_code_registered_meanwhile_rejects_the_whole_commit(app: Registry) -> None:
    session = UnitImport(app, OFFICER, COLUMNS)
    session.check(rows({"code": "K-1", "name": "Thôn 1", "unit_type": "khu_dan_cu", "commune_code": "11948"},
                       {"code": "K-2", "name": "Thôn 2", "unit_type": "khu_dan_cu", "commune_code": "11948"}))
    app.register_unit("K-2", "Thôn 2 (đăng ký trước)", "khu_dan_cu", "31", "11948", OFFICER)
    before = app.recorder.max_notification_id()
    with pytest.raises(DomainError) as failure:
        session.commit()
    assert failure.value.reason == "UNIT_ALREADY_REGISTERED"
    assert app.recorder.max_notification_id() == before


def test_the_fast_xlsx_reader_reads_what_openpyxl_reads(tmp_path: Path) -> None:
    from services.registry.importing.reader import _read_xlsx_openpyxl, read_xlsx

    book = Workbook()
    sheet = book.active
    sheet.append(["Mã đơn vị", "Tên đơn vị", "Loại", "Mã tỉnh", "Mã xã", "Ngày hiệu lực", "Lực lượng vũ trang"])
    sheet.append(["A-1", "Thôn 1", "Khu dân cư", 1, 145, datetime(2025, 8, 1), True])
    sheet.append([None, None, None, None, None])
    sheet.append(["A-2", "Thôn & \"2\"", None, "01", "00145", date(2024, 3, 5), False])
    sheet["H5"] = "ngoài bảng"
    sheet.append(["A-3", "Cơ sở 3", "co_so_giao_duc", 31, "11948", 45870])
    book.save(tmp_path / "units.xlsx")
    fast, reference_table = read_xlsx(tmp_path / "units.xlsx"), _read_xlsx_openpyxl(tmp_path / "units.xlsx")
    assert fast.rows == reference_table.rows and fast.columns == reference_table.columns
    assert [r.row_number for r in fast.rows] == [2, 4, 6]  # row 5 holds only an ignored column
    assert fast.rows[0].values["effective_date"] == "2025-08-01" and fast.rows[2].values["effective_date"] == "45870"


SYNTHETIC = "dữ liệu thử (mã tổng hợp) / synthetic test data"
AREA_COLUMNS = {"level": "Cấp", "code": "Mã", "name": "Tên", "kind": "Loại", "parent_code": "Mã đơn vị cấp trên",
                "parent_level": "Cấp trên", "legal_basis": "Căn cứ pháp lý"}


def test_areas_import_creates_parents_before_children_in_one_transaction(tree_app: Registry) -> None:
    from services.registry.importing.areas import AreaImport
    from services.registry.importing.columns import AREAS

    assert AREAS.field_for("Mã đơn vị cấp trên") == "parent_code" and AREAS.field_for("Căn cứ pháp lý") == "legal_basis"
    session = AreaImport(tree_app, OFFICER, AREA_COLUMNS)
    session.check(rows(
        {"level": "Huyện", "code": "TEST-HD", "name": "Thành phố Hải Dương", "kind": "Thành phố", "parent_code": "30",
         "legal_basis": SYNTHETIC},
        {"level": "Xã", "code": "TEST-CAM-THUONG", "name": "Phường Cẩm Thượng", "kind": "Phường",
         "parent_code": "TEST-HD", "parent_level": "huyện", "legal_basis": SYNTHETIC},
    ))
    assert session.problems == [] and session.commit() == 2
    assert tree_app.get_area("commune", "TEST-CAM-THUONG").current.parent.code == "TEST-HD"  # type: ignore[union-attr]


def test_areas_import_reports_every_bad_row_and_writes_nothing(tree_app: Registry) -> None:
    from services.registry.importing.areas import AreaImport

    before = tree_app.recorder.max_notification_id()
    session = AreaImport(tree_app, OFFICER, AREA_COLUMNS)
    session.check(rows(
        {"level": "xa", "code": "TEST-1", "name": "Xã Một", "kind": "xa", "parent_code": "31",
         "effective_date": "2025-08-01", "legal_basis": SYNTHETIC},
        {"level": "xa", "code": "TEST-2", "name": "Xã Hai", "kind": "xa", "parent_code": "99",
         "effective_date": "2025-08-01", "legal_basis": SYNTHETIC},
        {"level": "xa", "code": "TEST-1", "name": "Xã Một lặp", "kind": "xa", "parent_code": "31",
         "effective_date": "2025-08-01", "legal_basis": SYNTHETIC},
        {"level": "xa", "code": "10507", "name": "Phường Thành Đông", "kind": "phuong", "parent_code": "31",
         "effective_date": "2025-08-01", "legal_basis": SYNTHETIC},
        {"level": "xa", "code": "TEST-5", "name": "Xã Năm", "kind": "quan", "parent_code": "31",
         "effective_date": "2025-08-01", "legal_basis": SYNTHETIC},
    ))
    assert [(p.row_number, p.column, p.reason) for p in session.problems] == [
        (3, "Mã đơn vị cấp trên", "AREA_NOT_FOUND"), (4, "Mã", "DUPLICATE_CODE_IN_FILE"),
        (5, "Mã", "AREA_ALREADY_EXISTS"), (6, "Loại", "INVALID_AREA_FIELD")]
    with pytest.raises(ImportFileError):
        session.commit()
    assert tree_app.recorder.max_notification_id() == before

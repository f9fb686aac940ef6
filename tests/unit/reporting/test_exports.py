"""XLSX totals equal the report's; the PDF has a summary page plus one page per sub-area, with an embedded font."""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from collections.abc import Callable

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from antt.contracts.vocabulary import UnitType
from antt.errors import InvalidArgumentError
from services.reporting import exports, queries
from services.reporting.rollup.report import Report
from services.reporting.exports.table import HEADERS, TOTAL_LABEL
from tests.unit.reporting.builders import World
from tests.unit.reporting.test_rollups import Y, build

pytestmark = pytest.mark.unit


@pytest.fixture
def national(store: Engine, feed: Callable[[World], None]) -> Report:
    world = World()
    build(world)
    feed(world)
    with store.connect() as conn:
        return queries.report(conn, Y, "national")


def column(name: str) -> int:
    return HEADERS.index(name)


def test_xlsx_opens_with_openpyxl_and_its_totals_equal_the_report(national: Report) -> None:
    wb = load_workbook(io.BytesIO(exports.render(national, "xlsx")))
    assert wb.sheetnames[0] == "Tổng hợp" and len(wb.sheetnames) == 2 + len(UnitType)
    summary = [list(r) for r in wb["Tổng hợp"].iter_rows(min_row=2, values_only=True)]
    assert tuple(summary[0]) == HEADERS
    total = summary[-1]
    t = national.area.total
    assert total[1] == TOTAL_LABEL
    assert (total[column("Đơn vị thuộc phạm vi")], total[column("Đạt chuẩn ANTT")], total[column("Bị thu hồi")],
            total[column("Tỷ lệ đạt chuẩn (%)")], total[column("Khá")]) == (
        t.in_scope, t.recognised, t.revoked, t.pct_recognised, t.levels["kha"])
    assert [r[0] for r in summary[1:-1]] == [s.code for s in national.sub_areas]
    # every unit-type sheet's totals add up to the summary's
    per_type = [list(wb[k.label_vi[:31]].iter_rows(values_only=True))[-1] for k in UnitType]
    assert sum(r[column("Đơn vị thuộc phạm vi")] for r in per_type) == t.in_scope
    assert sum(r[column("Đạt chuẩn ANTT")] for r in per_type) == t.recognised
    awards = list(wb["Đủ điều kiện khen thưởng"].iter_rows(min_row=2, values_only=True))
    assert [a[0] for a in awards] == [a["unit_code"] for a in national.award_eligible]


def test_csv_has_vietnamese_headers_and_the_same_totals(national: Report) -> None:
    text = exports.render(national, "csv").decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == HEADERS
    assert int(table[-1][column("Đơn vị thuộc phạm vi")]) == national.area.total.in_scope


def test_pdf_has_one_page_per_sub_area_after_the_summary(national: Report) -> None:
    seen: list[tuple[int, int]] = []
    pdf = exports.render(national, "pdf", progress=lambda done, total: seen.append((done, total)))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = re.findall(rb"/Type /Page\b(?!s)", pdf)
    assert len(pages) == 1 + len(national.sub_areas) == 3
    tree = [chunk for chunk in pdf.split(b"endobj") if re.search(rb"/Type /Pages\b", chunk)]
    assert len(tree) == 1 and int(re.search(rb"/Count (\d+)", tree[0]).group(1)) == 3  # type: ignore[union-attr]
    assert b"/FontFile2" in pdf and b"DejaVu" in pdf  # the TrueType font with Vietnamese glyphs is embedded
    assert seen[-1] == (2, 2)


def test_pdf_renders_with_pdftoppm(national: Report, tmp_path: Path) -> None:
    import os
    import subprocess

    if shutil.which("pdftoppm") is None:  # CI installs poppler-utils; it must not pass by skipping there
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is missing under CI=true")
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")

    path = tmp_path / "r.pdf"
    path.write_bytes(exports.render(national, "pdf"))
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(path), str(tmp_path / "p")], check=True)
    assert len(list(tmp_path.glob("p*.png"))) == 1 + len(national.sub_areas)


def test_an_unknown_format_is_rejected(national: Report) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        exports.render(national, "docx")
    assert err.value.reason == "UNSUPPORTED_FORMAT"

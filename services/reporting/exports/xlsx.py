"""XLSX export: a summary sheet, one sheet per unit type and the award-eligibility list."""

from __future__ import annotations

import io
from collections.abc import Callable

from openpyxl import Workbook
from openpyxl.styles import Font

from antt.contracts.vocabulary import UnitType
from services.reporting.exports.table import HEADERS, rows
from services.reporting.rollup.report import Report

SUMMARY = "Tổng hợp"
AWARDS = "Đủ điều kiện khen thưởng"


def _title(report: Report) -> str:
    return (f"Báo cáo phong trào toàn dân bảo vệ ANTQ năm {report.year} — {report.area.name} "
            f"(địa giới: {'năm báo cáo' if report.boundary.value == 'then' else 'hiện nay'})")


def _sheet(wb: Workbook, title: str, heading: str, data: list[list[object]], first: bool = False) -> None:
    ws = wb.active if first else wb.create_sheet()
    ws.title = title
    ws.append([heading])
    ws["A1"].font = Font(bold=True)
    ws.append(list(HEADERS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in data:
        ws.append(r)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)


def to_xlsx(report: Report, progress: Callable[[int, int], None] | None = None) -> bytes:
    """The workbook's bytes; the totals row of every sheet equals the API's figures."""
    wb = Workbook()
    _sheet(wb, SUMMARY, _title(report), rows(report), first=True)
    kinds = list(UnitType)
    for i, kind in enumerate(kinds, 1):
        _sheet(wb, kind.label_vi[:31], f"{_title(report)} — {kind.label_vi}", rows(report, kind.value))
        if progress:
            progress(i, len(kinds))
    ws = wb.create_sheet(AWARDS)
    ws.append(["Mã đơn vị", "Tên", "Loại", "Tỉnh", "Xã", "Mức phân loại"])
    for a in report.award_eligible:
        ws.append([a["unit_code"], a["name"], a["unit_type"], a["province_code"], a["commune_code"], a["level"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

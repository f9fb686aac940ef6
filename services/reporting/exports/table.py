"""The tabular form shared by the XLSX and CSV exports: Vietnamese headers, one row per area."""

from __future__ import annotations

import csv
import io
from typing import Any

from services.reporting.rollup.figures import LEVEL_LABELS_VI, LEVELS, Figures
from services.reporting.rollup.report import Report

HEADERS: tuple[str, ...] = (
    "Mã", "Tên", "Đơn vị thuộc phạm vi", "Đã đăng ký", "Đăng ký đúng hạn", "Đã quyết định", "Quyết định đúng hạn",
    "Đạt chuẩn ANTT", "Không đạt", "Bị thu hồi", "Tỷ lệ đạt chuẩn (%)", "Đã phân loại",
    *(LEVEL_LABELS_VI[level] for level in LEVELS), "Tỷ lệ Khá trở lên (%)",
)
TOTAL_LABEL = "Tổng cộng"


def row(code: str, name: str, f: Figures) -> list[Any]:
    """One table row."""
    return [code, name, f.in_scope, f.registered, f.registered_on_time, f.decided, f.decided_on_time, f.recognised,
            f.not_recognised, f.revoked, f.pct_recognised, f.classified, *(f.levels.get(lv, 0) for lv in LEVELS),
            f.pct_kha_or_above]


def rows(report: Report, unit_type: str | None = None) -> list[list[Any]]:
    """Sub-area rows (ranked as in the API), then the total row; for one unit type when given."""
    def pick(by_type: dict[str, Figures], total: Figures) -> Figures:
        return total if unit_type is None else by_type.get(unit_type, Figures())

    out = [row(s.code, s.name, pick(s.by_type, s.total)) for s in report.sub_areas]
    out.append(row(report.area.code, TOTAL_LABEL, pick(report.area.by_type, report.area.total)))
    return out


def to_csv(report: Report) -> bytes:
    """CSV (UTF-8 with BOM, so spreadsheet programs read the diacritics)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    writer.writerows(["" if v is None else v for v in r] for r in rows(report))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")

"""Exports of a report: XLSX, CSV and PDF, with the same figures as the API."""

from __future__ import annotations

from collections.abc import Callable

from antt.errors import InvalidArgumentError
from services.reporting.rollup.report import Report

FORMATS = ("xlsx", "csv", "pdf")


def render(report: Report, fmt: str, progress: Callable[[int, int], None] | None = None) -> bytes:
    """The report in a format ("xlsx", "csv" or "pdf"); `progress(done, total)` is called per sub-area."""
    if fmt == "xlsx":
        from services.reporting.exports.xlsx import to_xlsx
        return to_xlsx(report, progress)
    if fmt == "csv":
        from services.reporting.exports.table import to_csv
        return to_csv(report)
    if fmt == "pdf":
        from services.reporting.exports.pdf import to_pdf
        return to_pdf(report, progress)
    raise InvalidArgumentError(f"Định dạng xuất không hỗ trợ: {fmt!r} (xlsx, csv, pdf)",
                               f"unsupported export format {fmt!r} (xlsx, csv, pdf)", field="format",
                               reason="UNSUPPORTED_FORMAT")

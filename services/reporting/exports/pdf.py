"""PDF yearly report: a summary page, then one page per sub-area with its charts (fpdf2, DejaVu Sans)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF

from antt.errors import FailedPreconditionError
from services.reporting.rollup.figures import LEVEL_LABELS_VI, LEVELS, Figures
from services.reporting.rollup.report import Report
from services.reporting.targets import Threshold

FONT_CANDIDATES = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                   Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"))
BAR_WIDTH = 120.0


def font_path() -> Path:
    """A TrueType font with Vietnamese glyphs (DejaVu Sans), else FAILED_PRECONDITION."""
    for path in FONT_CANDIDATES:
        if path.exists():
            return path
    raise FailedPreconditionError("Không tìm thấy phông DejaVuSans.ttf để xuất PDF tiếng Việt",
                                  "no DejaVuSans.ttf font found for the Vietnamese PDF", reason="FONT_MISSING")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


class _Doc(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.add_font("DejaVu", "", str(font_path()))
        self.set_font("DejaVu", size=10)
        self.set_auto_page_break(False)

    def line_text(self, text: str, size: int = 10, h: float = 6) -> None:
        self.set_font("DejaVu", size=size)
        self.cell(0, h, text, new_x="LMARGIN", new_y="NEXT")

    def bar(self, label: str, value: float, target: float | None = None) -> None:
        """A horizontal bar for a percentage, with the target marked."""
        x, y = self.l_margin + 45, self.get_y() + 1
        self.set_font("DejaVu", size=9)
        self.cell(45, 6, label)
        self.set_fill_color(225, 225, 225)
        self.rect(x, y, BAR_WIDTH, 4, style="F")
        self.set_fill_color(40, 110, 180)
        self.rect(x, y, BAR_WIDTH * max(0.0, min(value, 100.0)) / 100, 4, style="F")
        if target is not None:
            self.set_draw_color(200, 30, 30)
            self.line(x + BAR_WIDTH * target / 100, y - 1, x + BAR_WIDTH * target / 100, y + 5)
        self.set_xy(x + BAR_WIDTH + 3, y - 1)
        self.cell(20, 6, f"{value:.1f}%", new_x="LMARGIN", new_y="NEXT")


def _figures_page(doc: _Doc, title: str, f: Figures, recognition: Threshold, kha: Threshold) -> None:
    doc.add_page()
    doc.line_text(title, size=13, h=9)
    doc.line_text(f"Đơn vị thuộc phạm vi: {f.in_scope}   Đã đăng ký: {f.registered} "
                  f"(đúng hạn {f.registered_on_time})   Đã quyết định: {f.decided} (đúng hạn {f.decided_on_time})")
    doc.line_text(f"Đạt chuẩn ANTT: {f.recognised}   Không đạt: {f.not_recognised}   Bị thu hồi: {f.revoked}")
    doc.line_text(f"Tỷ lệ đạt chuẩn: {_pct(f.pct_recognised)} (chỉ tiêu {recognition.label()}: "
                  f"{'đạt' if recognition.met(f.pct_recognised) else 'chưa đạt'})")
    doc.line_text(f"Tỷ lệ Khá trở lên: {_pct(f.pct_kha_or_above)} (chỉ tiêu {kha.label()}: "
                  f"{'đạt' if kha.met(f.pct_kha_or_above) else 'chưa đạt'})")
    doc.ln(3)
    doc.line_text("Tỷ lệ đạt chuẩn và mức phân loại", size=11, h=8)
    doc.bar("Đạt chuẩn ANTT", f.pct_recognised or 0.0, recognition.pct)
    doc.bar("Khá trở lên", f.pct_kha_or_above or 0.0, kha.pct)
    for level in LEVELS:
        share = 100.0 * f.levels.get(level, 0) / f.classified if f.classified else 0.0
        doc.bar(f"{LEVEL_LABELS_VI[level]} ({f.levels.get(level, 0)})", share)


def to_pdf(report: Report, progress: Callable[[int, int], None] | None = None) -> bytes:
    """A summary page for the scope, then exactly one page per sub-area (in the API's ranking)."""
    doc = _Doc()
    t = report.targets
    _figures_page(doc, f"Báo cáo năm {report.year} — {report.area.name}", report.area.total, t.recognition,
                  t.kha_or_above)
    doc.ln(3)
    doc.line_text("Xếp hạng theo tỷ lệ đạt chuẩn:", size=11, h=8)
    for rank, sub in enumerate(report.sub_areas[:20], 1):
        doc.line_text(f"{rank}. {sub.name} ({sub.code}): {_pct(sub.total.pct_recognised)}", size=9, h=5)
    for i, sub in enumerate(report.sub_areas, 1):
        _figures_page(doc, f"{sub.name} ({sub.code}) — năm {report.year}", sub.total, t.recognition, t.kha_or_above)
        if progress:
            progress(i, len(report.sub_areas))
    return bytes(doc.output())

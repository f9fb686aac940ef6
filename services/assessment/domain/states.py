"""Lifecycle states, outcomes and the explanation of an assessment case (regulations.md §8.2)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from services.assessment.domain.values import CoverageFigures, CriterionEvaluation, Decision


class CaseState(enum.Enum):
    """Where a case is in its yearly lifecycle (regulations.md §8.2)."""

    DANG_KY = "dang_ky"
    TU_DANH_GIA = "tu_danh_gia"
    DA_NOP = "da_nop"
    DA_THAM_DINH = "da_tham_dinh"
    CONG_NHAN = "cong_nhan"
    KHONG_CONG_NHAN = "khong_cong_nhan"
    THU_HOI = "thu_hoi"
    DA_DONG = "da_dong"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return _STATE_LABELS[self]


_STATE_LABELS = {
    CaseState.DANG_KY: "Đã đăng ký", CaseState.TU_DANH_GIA: "Đã tự đánh giá", CaseState.DA_NOP: "Đã nộp hồ sơ",
    CaseState.DA_THAM_DINH: "Đã thẩm định", CaseState.CONG_NHAN: "Được công nhận đạt chuẩn",
    CaseState.KHONG_CONG_NHAN: "Không công nhận (chưa đạt)", CaseState.THU_HOI: "Đã thu hồi công nhận",
    CaseState.DA_DONG: "Đã đóng hồ sơ",
}
PRE_DECISION = (CaseState.DANG_KY, CaseState.TU_DANH_GIA, CaseState.DA_NOP, CaseState.DA_THAM_DINH)


class Outcome(enum.Enum):
    """Result of a decision: đạt (recognised) or chưa đạt (TT124 Đ8 k1)."""

    DAT = "dat"
    CHUA_DAT = "chua_dat"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return {"dat": "Đạt", "chua_dat": "Chưa đạt"}[self.value]


class ClosureReason(enum.Enum):
    """Why a case was closed before a decision."""

    SAP_NHAP = "sap_nhap"            # unit merged
    GIAI_THE = "giai_the"            # unit dissolved
    NGOAI_PHAM_VI = "ngoai_pham_vi"  # unit left TT124's scope (e.g. an enterprise became small)
    KHAC = "khac"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return {"sap_nhap": "Sáp nhập", "giai_the": "Giải thể", "ngoai_pham_vi": "Ngoài phạm vi áp dụng",
                "khac": "Lý do khác"}[self.value]


@dataclass(frozen=True)
class Explanation:
    """Why a case stands as it does: each criterion, the rule-set id, the outcome and decision."""

    case_id: uuid.UUID
    unit_id: uuid.UUID
    year: int
    rule_set_id: str
    state: CaseState
    evaluations: tuple[CriterionEvaluation, ...]
    coverage: CoverageFigures | None
    outcome: Outcome | None
    decision: Decision | None
    late_decision: bool

"""Value objects carried by assessment events: evidence, results, findings, decisions, authorities."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from services.assessment.domain.errors import InvalidAssessmentError, InvalidFieldError, MissingDecisionNumberError
from services.assessment.rules.model import CriterionKind
from services.assessment.rules.types import Tier

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
TEXT_MAX = 500


def clean_text(value: str, field: str, label_vi: str, *, required: bool = True, max_length: int = TEXT_MAX) -> str:
    """NFC-normalised, trimmed text; rejects empty (when required), over-long and control characters."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if required and not text:
        raise InvalidFieldError(f"{label_vi} không được để trống", f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidFieldError(f"{label_vi} dài quá {max_length} ký tự",
                                f"{field} is longer than {max_length} characters", field=field)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidFieldError(f"{label_vi} chứa ký tự điều khiển", f"{field} contains control characters",
                                field=field)
    return text


@dataclass(frozen=True)
class EvidenceRef:
    """A document held elsewhere, pinned by its SHA-256 digest (kind e.g. REG-FORM, REC-MINUTES)."""

    kind: str
    uri: str
    sha256: str
    title: str = ""

    def __post_init__(self) -> None:
        if not SHA256_HEX.match(self.sha256 or ""):
            raise InvalidAssessmentError(f"Mã băm SHA-256 của tài liệu {self.uri!r} không hợp lệ",
                                         f"evidence {self.uri!r} needs a lowercase hex SHA-256 digest",
                                         field="evidence.sha256", reason="INVALID_EVIDENCE_DIGEST")
        if not (self.kind or "").strip() or not (self.uri or "").strip():
            raise InvalidAssessmentError("Tài liệu phải có loại và địa chỉ", "evidence needs a kind and a uri",
                                         field="evidence")


@dataclass(frozen=True)
class CriterionResult:
    """The unit's own result for one criterion: met (yes/no) or a value, with its evidence."""

    criterion_id: str
    met: bool | None = None
    value: float | None = None
    previous_value: float | None = None
    not_applicable: bool = False
    evidence: tuple[EvidenceRef, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Finding:
    """The appraiser's finding on one criterion; it prevails over the self-assessment."""

    criterion_id: str
    met: bool | None = None
    value: float | None = None
    previous_value: float | None = None
    not_applicable: bool = False
    note: str = ""


@dataclass(frozen=True)
class Authority:
    """An issuing authority: its tier, its name, and the code of its area (commune/province)."""

    tier: Tier
    name: str
    area_code: str = ""


@dataclass(frozen=True)
class Decision:
    """A decision document (Quyết định): number, date, signer and issuing authority."""

    number: str
    date: date
    signer: str
    signer_title: str
    authority: Authority

    def __post_init__(self) -> None:
        if not (self.number or "").strip():
            raise MissingDecisionNumberError()
        clean_text(self.signer, "decision.signer", "Người ký")
        clean_text(self.authority.name, "decision.authority.name", "Cơ quan ban hành")


@dataclass(frozen=True)
class CoverageFigures:
    """The commune's managed in-scope units that year: how many, registered, recognised."""

    managed: int
    registered: int
    recognised: int

    @property
    def registered_pct(self) -> float:
        """Share registered, in percent (0 when the commune manages no unit)."""
        return 100.0 * self.registered / self.managed if self.managed else 0.0

    @property
    def recognised_pct(self) -> float:
        """Share recognised, in percent (0 when the commune manages no unit)."""
        return 100.0 * self.recognised / self.managed if self.managed else 0.0


class Basis(enum.Enum):
    """Where a criterion's evaluated result came from."""

    TU_DANH_GIA = "tu_danh_gia"   # the unit's self-assessment
    THAM_DINH = "tham_dinh"       # the appraiser's finding
    TINH_TOAN = "tinh_toan"       # computed by the service (coverage, derived criteria)
    THIEU = "thieu"               # missing

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics."""
        return {"tu_danh_gia": "Tự đánh giá", "tham_dinh": "Thẩm định", "tinh_toan": "Hệ thống tính",
                "thieu": "Thiếu kết quả"}[self.value]


@dataclass(frozen=True)
class CriterionEvaluation:
    """One line of an explanation: criterion, value, threshold, met or not, and where it came from."""

    criterion_id: str
    label_vi: str
    label_en: str
    kind: CriterionKind
    met: bool
    basis: Basis
    value: float | None = None
    previous_value: float | None = None
    threshold: str = ""
    not_applicable: bool = False
    exception: str = ""   # the appraiser's reason when an exempt criterion is met despite the count

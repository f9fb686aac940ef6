"""Vietnamese first: every label is written in Vietnamese and translated here for ?lang=en."""

from __future__ import annotations

import functools
from typing import Any

LANGS = ("vi", "en")
EN: dict[str, str] = {
    "Bảng điều khiển ANTT": "ANTT console",
    "Đăng nhập": "Sign in", "Đăng xuất": "Sign out", "Tổng quan": "Dashboard", "Đơn vị": "Units",
    "Nhập từ Excel": "Import from Excel", "Thời hạn và nhắc việc": "Deadlines and reminders",
    "Báo cáo": "Reports", "Địa bàn": "Jurisdiction", "Năm": "Year", "Chọn": "Choose",
    "Toàn quốc": "National", "Tên đăng nhập": "Username", "Mật khẩu": "Password",
    "Mã thông báo (bearer token)": "Bearer token", "hoặc": "or",
    "Người dùng thử (chỉ môi trường phát triển)": "Demo users (development only)",
    "Sai tên đăng nhập hoặc mật khẩu": "Wrong username or password",
    "Mã thông báo không hợp lệ": "Invalid token",
    "Không có quyền truy cập": "Access denied",
    "Dịch vụ từ chối yêu cầu này với quyền của bạn.": "The service refused this request with your rights.",
    "Tỷ lệ công nhận": "Recognition rate", "Tỷ lệ khá trở lên": "Share rated good or above",
    "mục tiêu": "target", "đạt": "met", "chưa đạt": "not met",
    "Thuộc phạm vi": "In scope", "Đã đăng ký": "Registered", "Đã quyết định": "Decided",
    "Được công nhận": "Recognised", "Không công nhận": "Not recognised", "Bị thu hồi": "Revoked",
    "Đã xếp loại": "Classified", "Đầy đủ": "Completeness", "Đúng hạn đăng ký": "Registration on time",
    "Đúng hạn quyết định": "Decisions on time", "Địa bàn cấp dưới": "Sub-areas",
    "xếp hạng theo tỷ lệ công nhận": "ranked by recognition rate", "Gần ngưỡng": "Near the threshold",
    "Không có dữ liệu": "No data", "Tìm kiếm": "Search", "Loại đơn vị": "Unit type", "Tất cả": "All",
    "Trạng thái": "Status", "Đang hoạt động": "Open", "Đã chấm dứt": "Closed", "Mã": "Code", "Tên": "Name",
    "Xã/phường": "Commune", "Tỉnh": "Province", "Đăng ký đơn vị mới": "Register a new unit",
    "Ngày hiệu lực": "Effective date", "Lưu": "Save", "Hồ sơ hằng năm": "Yearly cases",
    "Dòng thời gian": "Timeline", "Thời điểm ghi": "Recorded", "Người thực hiện": "Actor",
    "Sự kiện": "Event", "Chuỗi băm": "Hash chain", "khớp": "intact", "đứt": "broken",
    "không cung cấp": "not exposed", "Đăng ký hồ sơ năm": "Register the case for year",
    "Hồ sơ": "Case", "Tự đánh giá": "Self-assessment", "Tiêu chí": "Criterion", "Ngưỡng": "Threshold",
    "Giá trị": "Value", "Năm trước": "Previous year", "Minh chứng": "Evidence", "Ghi chú": "Note",
    "Đạt": "Met", "Không đạt": "Not met", "Không áp dụng": "Not applicable", "Chưa khai": "Not declared",
    "Lưu tự đánh giá": "Save the self-assessment", "Nộp hồ sơ": "Submit the case",
    "Thẩm định": "Appraisal", "Thẩm định đạt": "Appraise", "Trả lại để bổ sung": "Return for completion",
    "Lý do trả lại": "Reason for return", "Quyết định": "Decision", "Số quyết định": "Decision number",
    "Ngày quyết định": "Decision date", "Người ký": "Signer", "Chức vụ": "Title",
    "Cấp ban hành": "Issuing tier", "Cơ quan ban hành": "Issuing authority", "Mã địa bàn": "Area code",
    "Công nhận": "Recognise", "Ra quyết định": "Decide", "Thu hồi công nhận": "Revoke the recognition",
    "Lý do (bắt buộc)": "Reason (mandatory)", "Xếp loại phong trào": "Movement classification",
    "Điểm mục": "Points of item", "Đề xuất xếp loại": "Propose", "Quyết định xếp loại": "Decide the classification",
    "Xếp loại lại": "Reclassify", "Mức": "Level", "Điểm": "Points", "Kết quả": "Outcome",
    "Tệp Excel (.xlsx)": "Excel file (.xlsx)", "Chỉ kiểm tra thử (không ghi)": "Dry run only (write nothing)",
    "Kiểm tra": "Check", "Dòng": "Row", "Cột": "Column", "Lỗi": "Error",
    "Kiểm tra thử: không ghi gì": "Dry run: nothing written", "Đã nhập": "Imported",
    "dòng lỗi; không ghi gì": "bad rows; nothing written", "dòng hợp lệ": "valid rows",
    "Thời hạn sắp tới": "Upcoming deadlines", "Quá hạn": "Overdue", "Đã gửi": "Sent",
    "Hạn": "Due", "Kênh": "Channel", "Người nhận": "Recipient", "Cập nhật": "Updated",
    "Xuất báo cáo": "Export", "Tái hiện theo thời điểm": "Audit replay as of",
    "Ngày": "Date", "Tái hiện": "Replay", "Mã băm báo cáo": "Report digest", "Sự kiện đã đọc": "Events replayed",
    "Lỗi từ dịch vụ": "Error from the service", "Đã lưu": "Saved", "Không tìm thấy": "Not found",
    "Xem": "View", "Quay lại": "Back", "Tiếng Việt": "Tiếng Việt", "Chưa có hồ sơ": "No case yet",
    "Phiên làm việc hết hạn, vui lòng đăng nhập lại": "Session expired, please sign in again",
    "Yêu cầu không hợp lệ (CSRF)": "Invalid request (CSRF)", "Vai trò": "Role",
    "Dữ liệu báo cáo được cập nhật sau vài giây.": "Report figures update a few seconds after each change.",
    "Sẽ gửi trong lần quét tới": "To be sent at the next scan", "Đề xuất": "Proposed",
    "Hồ sơ kèm theo": "Attached documents", "Kỳ hạn": "Window",
    "Trang trước": "Previous page", "Trang sau": "Next page",
    "Chỉ tìm trong {n} đơn vị đầu tiên; hãy lọc theo địa bàn hoặc loại đơn vị.":
        "Only the first {n} units were searched; filter by area or unit type.",
    "Đơn vị của xã/phường": "Units of the commune",
    "cần chú ý trước, đã công nhận sau": "those needing attention first, recognised last",
    "Cần thêm {n} đơn vị được công nhận để đạt mục tiêu {target}.":
        "{n} more recognised units are needed to reach the {target} target.",
    "Đã đạt mục tiêu {target}.": "The {target} target is met.",
    "{n} hồ sơ đang chờ thẩm định hoặc quyết định (gần ngưỡng).":
        "{n} cases await appraisal or decision (near the threshold).",
    "Chưa đăng ký": "Not registered",
    "Xã/phường chưa có đơn vị nào đang hoạt động.": "The commune has no open unit yet.",
}


def translate(text: str, lang: str) -> str:
    """The text in `lang` (Vietnamese is the source language)."""
    return EN.get(text, text) if lang == "en" else text


def both(vi: str, en: str, lang: str) -> str:
    """A service's message in the chosen language first, the other after it."""
    return f"{en} / {vi}" if lang == "en" else f"{vi} / {en}"


# --- labels of the codes the services send ------------------------------------------------------------------
# Vietnamese comes from the kernel's and the services' own label tables where they exist (one source of
# truth); the console adds English, and Vietnamese only for codes no table names yet.

def _vi_tables() -> dict[str, dict[str, str]]:
    """Vietnamese labels per kind of code, taken from the vocabulary and the services' domain modules."""
    from antt.contracts.vocabulary import UnitType
    from services.assessment.domain.classification import ClassificationState
    from services.assessment.domain.states import CaseState, ClosureReason, Outcome
    from services.assessment.domain.values import Basis
    from services.assessment.rules.types import Tier
    from services.reporting.rollup.figures import LEVEL_LABELS_VI

    def of(enum_type: Any) -> dict[str, str]:
        return {member.value: member.label_vi for member in enum_type}

    return {"unit_type": of(UnitType), "case_state": of(CaseState), "outcome": of(Outcome),
            "case_closure": of(ClosureReason), "classification_state": of(ClassificationState),
            "basis": of(Basis), "tier": of(Tier), "level": dict(LEVEL_LABELS_VI)}


# Codes without a label table elsewhere: (Vietnamese, English).
_OWN: dict[str, dict[str, tuple[str, str]]] = {
    "unit_status": {"hoat_dong": ("Đang hoạt động", "Open"), "cham_dut": ("Đã chấm dứt", "Closed")},
    "unit_closure": {"dissolved": ("Giải thể", "Dissolved"), "merged": ("Sáp nhập", "Merged")},
    "role": {"ministry_operator": ("Cán bộ Bộ Công an", "Ministry operator"),
             "province_operator": ("Cán bộ cấp tỉnh", "Province operator"),
             "commune_operator": ("Cán bộ cấp xã", "Commune operator"),
             "unit_representative": ("Đại diện đơn vị", "Unit representative"),
             "auditor": ("Kiểm tra, giám sát", "Auditor"),
             "agency_subscriber": ("Cơ quan theo dõi", "Agency subscriber"),
             "service": ("Dịch vụ hệ thống", "System service"), "system": ("Hệ thống", "System")},
    "measure": {"recognition": ("Tỷ lệ công nhận", "Recognition rate"),
                "kha_or_above": ("Tỷ lệ khá trở lên", "Share rated good or above")},
    "obligation_state": {"pending": ("Đang chờ", "Pending"), "satisfied": ("Đã hoàn thành", "Done"),
                         "overdue": ("Quá hạn", "Overdue"), "not_applicable": ("Không áp dụng", "Not applicable")},
    "delivery_status": {"claimed": ("Đang gửi", "Sending"), "handed_over": ("Đã chuyển đi", "Handed over"),
                        "sent": ("Đã gửi", "Sent"), "given_up": ("Gửi không thành công", "Given up")},
    "notice": {"reminder": ("Nhắc trước hạn", "Reminder"), "overdue": ("Báo quá hạn", "Overdue notice"),
               "digest": ("Bản tổng hợp", "Digest")},
    "channel": {"email": ("Thư điện tử", "Email"), "webhook": ("Webhook", "Webhook"), "nats": ("NATS", "NATS")},
    "source": {"registry": ("Sổ đăng ký", "Registry"), "assessment": ("Đánh giá", "Assessment")},
    "dossier": {"REG-FORM": ("Đơn đăng ký", "Registration form"), "REG-PLAN": ("Kế hoạch", "Plan"),
                "REG-RESOLUTION": ("Nghị quyết", "Resolution"), "REC-REQUEST": ("Tờ trình đề nghị", "Request"),
                "REC-MINUTES": ("Biên bản họp", "Minutes"), "REC-REPORT": ("Báo cáo kết quả", "Report"),
                "EVIDENCE": ("Minh chứng", "Evidence")},
    "event": {  # the registry's unit history names its events without the "Unit" of their published names
        "Registered": ("Đăng ký đơn vị", "Unit registered"),
        "EligibilityFactsDeclared": ("Khai thông tin phạm vi áp dụng", "Eligibility facts declared"),
        "Updated": ("Cập nhật đơn vị", "Unit updated"),
        "DetailsDeclared": ("Khai thông tin đơn vị", "Unit details declared"),
        "Moved": ("Chuyển địa bàn", "Unit moved"), "Closed": ("Chấm dứt đơn vị", "Unit closed"),
        "CaseRegistered": ("Đăng ký hồ sơ", "Case registered"),
        "SelfAssessmentRecorded": ("Ghi tự đánh giá", "Self-assessment recorded"),
        "CaseSubmitted": ("Nộp hồ sơ", "Case submitted"), "CaseAppraised": ("Thẩm định", "Case appraised"),
        "CaseReturnedForCompletion": ("Trả lại để bổ sung", "Returned for completion"),
        "CaseDecided": ("Ra quyết định", "Case decided"),
        "RecognitionRevoked": ("Thu hồi công nhận", "Recognition revoked"),
        "CaseClosed": ("Đóng hồ sơ", "Case closed"),
        "ClassificationProposed": ("Đề xuất xếp loại", "Classification proposed"),
        "ClassificationDecided": ("Quyết định xếp loại", "Classification decided"),
        "Reclassified": ("Xếp loại lại", "Reclassified"),
        "ExemplaryDesignated": ("Công nhận điển hình", "Exemplary designated"),
        "ExemplaryWithdrawn": ("Thu hồi điển hình", "Exemplary withdrawn")},
}

# English for the codes whose Vietnamese comes from the services' tables.
_EN: dict[str, dict[str, str]] = {
    "unit_type": {"khu_dan_cu": "Residential area", "xa_phuong": "Commune, ward, special zone", "co_quan": "Agency",
                  "doanh_nghiep": "Enterprise", "co_so_giao_duc": "Educational institution"},
    "case_state": {"dang_ky": "Registered", "tu_danh_gia": "Self-assessed", "da_nop": "Submitted",
                   "da_tham_dinh": "Appraised", "cong_nhan": "Recognised as meeting the standard",
                   "khong_cong_nhan": "Not recognised (not met)", "thu_hoi": "Recognition revoked",
                   "da_dong": "Closed"},
    "outcome": {"dat": "Met", "chua_dat": "Not met"},
    "case_closure": {"sap_nhap": "Merged", "giai_the": "Dissolved", "ngoai_pham_vi": "Out of scope", "khac": "Other"},
    "classification_state": {"de_xuat": "Proposed by the unit", "da_quyet_dinh": "Decided"},
    "basis": {"tu_danh_gia": "Self-assessment", "tham_dinh": "Appraisal", "tinh_toan": "Computed by the system",
              "thieu": "Missing"},
    "tier": {"xa": "Commune tier", "huyen": "District tier", "tinh": "Province tier",
             "bo": "Ministry of Public Security"},
    "level": {"xuat_sac": "Excellent", "kha": "Good", "trung_binh": "Average", "yeu": "Weak"},
}


@functools.cache
def labels() -> dict[str, dict[str, tuple[str, str]]]:
    """Every label table: kind → code → (Vietnamese, English); English falls back to Vietnamese."""
    out = {kind: dict(table) for kind, table in _OWN.items()}
    for kind, vi in _vi_tables().items():
        out[kind] = {code: (text, _EN.get(kind, {}).get(code, text)) for code, text in vi.items()}
    return out


def label(kind: str, code: str, lang: str) -> str:
    """The label of a service's code (e.g. outcome "dat" → "Đạt" / "Met"); the code itself when unknown."""
    pair = labels().get(kind, {}).get(code)
    if pair is None:
        return code
    return pair[1] if lang == "en" else pair[0]

"""Type-specific unit details: household count (khu dân cư) and tax code (doanh nghiệp, mã số thuế)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from antt.contracts.vocabulary import UnitType
from services.registry.domain.errors import InvalidUnitFieldError

HOUSEHOLD_MAX = 1_000_000
# Mã số thuế: 10 digits for an enterprise, or 10 digits + "-" + 3 digits for a branch (chi nhánh).
_TAX_CODE = re.compile(r"^\d{10}(-\d{3})?$")


def household_count(unit_type: UnitType, value: Any) -> int:
    """A non-negative household count; only a khu dân cư has one (INVALID_ARGUMENT otherwise)."""
    if unit_type is not UnitType.KHU_DAN_CU:
        raise InvalidUnitFieldError(
            f"Chỉ khu dân cư mới có số hộ gia đình (đơn vị loại {unit_type.label_vi})",
            f"only a khu dan cu has a household count (unit type {unit_type.value})",
            field="household_count", reason="HOUSEHOLD_COUNT_NOT_APPLICABLE")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= HOUSEHOLD_MAX:
        raise InvalidUnitFieldError(
            f"Số hộ gia đình phải là số nguyên từ 0 đến {HOUSEHOLD_MAX}: {value!r}",
            f"household_count must be an integer from 0 to {HOUSEHOLD_MAX}: {value!r}",
            field="household_count", reason="INVALID_HOUSEHOLD_COUNT")
    return value


def tax_code(unit_type: UnitType, value: str) -> str:
    """A Vietnamese tax code (10 digits, or 10 + "-" + 3 for a branch) of a doanh nghiệp; "" means none."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if text and unit_type is not UnitType.DOANH_NGHIEP:
        raise InvalidUnitFieldError(
            f"Chỉ doanh nghiệp mới có mã số thuế (đơn vị loại {unit_type.label_vi})",
            f"only a doanh nghiep has a tax code (unit type {unit_type.value})",
            field="tax_code", reason="TAX_CODE_NOT_APPLICABLE")
    if text and not _TAX_CODE.match(text):
        raise InvalidUnitFieldError(
            f"Mã số thuế không hợp lệ: {text!r} (10 chữ số, hoặc 10 chữ số-3 chữ số với chi nhánh)",
            f"invalid tax code {text!r} (10 digits, or 10 digits-3 digits for a branch)",
            field="tax_code", reason="INVALID_TAX_CODE")
    return text


def parse_household_cell(text: str) -> int | None:
    """A household count from an import cell ("" -> None; "1.234" / "1,234" / "12.0" accepted)."""
    cell = (text or "").strip().replace(" ", "")
    if not cell:
        return None
    if re.fullmatch(r"\d+\.0+", cell):
        cell = cell.split(".")[0]
    elif re.fullmatch(r"\d{1,3}([.,]\d{3})+", cell):
        cell = re.sub(r"[.,]", "", cell)
    if not cell.isdigit() or not cell.isascii():
        raise InvalidUnitFieldError(f"Số hộ gia đình không hợp lệ: {text!r} (số nguyên không âm)",
                                    f"invalid household_count {text!r} (a non-negative integer)",
                                    field="household_count", reason="INVALID_HOUSEHOLD_COUNT")
    return int(cell)

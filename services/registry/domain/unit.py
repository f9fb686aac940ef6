"""The Unit aggregate: a unit of the movement (khu dân cư, xã/phường, cơ quan, doanh nghiệp, cơ sở giáo dục)."""

from __future__ import annotations

import enum
import unicodedata
import uuid
from datetime import date

from eventsourcing.domain import event

from antt.actor import Actor
from antt.eventstore.hashchain import ChainedAggregate
from services.registry.domain.errors import InvalidUnitFieldError

NAME_MAX = 200
CODE_MAX = 50
UNIT_NAMESPACE = uuid.UUID("6f1d2a8e-3c1b-5b7e-9a55-0a1e7a6e2025")


class UnitType(enum.Enum):
    """Unit types of TT124 Đ1 k2; values are the law's terms without diacritics."""

    KHU_DAN_CU = "khu_dan_cu"
    XA_PHUONG = "xa_phuong"
    CO_QUAN = "co_quan"
    DOANH_NGHIEP = "doanh_nghiep"
    CO_SO_GIAO_DUC = "co_so_giao_duc"

    @property
    def label_vi(self) -> str:
        """Vietnamese label with diacritics, for operators."""
        return _LABELS_VI[self]


_LABELS_VI = {
    UnitType.KHU_DAN_CU: "Khu dân cư",
    UnitType.XA_PHUONG: "Xã, phường, đặc khu",
    UnitType.CO_QUAN: "Cơ quan",
    UnitType.DOANH_NGHIEP: "Doanh nghiệp",
    UnitType.CO_SO_GIAO_DUC: "Cơ sở giáo dục",
}


def clean_text(value: str, field: str, label_vi: str, max_length: int) -> str:
    """NFC-normalised, trimmed text; rejects empty, over-long and control characters."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        raise InvalidUnitFieldError(f"{label_vi} không được để trống", f"{field} must not be empty", field=field)
    if len(text) > max_length:
        raise InvalidUnitFieldError(f"{label_vi} dài quá {max_length} ký tự",
                                    f"{field} is longer than {max_length} characters", field=field)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidUnitFieldError(f"{label_vi} chứa ký tự điều khiển", f"{field} contains control characters",
                                    field=field)
    return text


def parse_unit_type(value: str) -> UnitType:
    """The UnitType named by `value`, or an INVALID_ARGUMENT error listing the valid ones."""
    try:
        return UnitType(value)
    except ValueError:
        valid = ", ".join(t.value for t in UnitType)
        raise InvalidUnitFieldError(f"Loại đơn vị không hợp lệ: {value!r} (hợp lệ: {valid})",
                                    f"invalid unit_type {value!r} (valid: {valid})", field="unit_type") from None


class Unit(ChainedAggregate):
    """A registered unit; its id is derived from its code, so a code can be registered only once."""

    @staticmethod
    def create_id(code: str) -> uuid.UUID:
        """Unit ids are UUID5 of the code: a second registration of a code collides in the store."""
        return uuid.uuid5(UNIT_NAMESPACE, code)

    @event("Registered")
    def __init__(self, code: str, name: str, unit_type: UnitType, province_code: str, commune_code: str,
                 actor: Actor, effective_date: date) -> None:
        self.code = code
        self.name = name
        self.unit_type = unit_type
        self.province_code = province_code
        self.commune_code = commune_code
        self.registered_by = actor
        self.effective_date = effective_date

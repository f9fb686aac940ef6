"""Column headers accepted in import files (Vietnamese or English) and value normalisation."""

from __future__ import annotations

import functools
import re
import unicodedata

# field -> accepted headers (compared after slug(): no case, no diacritics, "_" for separators).
HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("Mã đơn vị", "Mã", "Code", "Unit code"),
    "name": ("Tên đơn vị", "Tên", "Name", "Unit name"),
    "unit_type": ("Loại", "Loại đơn vị", "Type", "Unit type"),
    "province_code": ("Mã tỉnh", "Mã tỉnh/thành phố", "Province", "Province code"),
    "commune_code": ("Mã xã", "Mã xã/phường", "Mã xã/phường/đặc khu", "Commune", "Commune code"),
    "effective_date": ("Ngày hiệu lực", "Ngày đăng ký", "Effective date", "Registered on"),
    "managing_authority": ("Cơ quan quản lý", "Managing authority"),
    "contact_email": ("Thư điện tử", "Email", "E-mail", "Contact email"),
    "contact_webhook": ("Webhook", "Địa chỉ webhook", "Contact webhook"),
    "armed_forces": ("Lực lượng vũ trang", "Thuộc lực lượng vũ trang", "Armed forces"),
    "size_class": ("Quy mô", "Quy mô doanh nghiệp", "Size class", "Enterprise size"),
    "size_declared_on": ("Ngày kê khai quy mô", "Size declared on"),
    "school_levels": ("Cấp học", "School levels"),
    "household_count": ("Số hộ gia đình", "Số hộ", "Household count"),
    "tax_code": ("Mã số thuế", "MST", "Tax code"),
}
REQUIRED = ("code", "name", "unit_type", "commune_code")
# Digits of official codes: a spreadsheet that stored them as numbers lost the leading zeros.
# A tax code (mã số thuế) stored as a number lost its leading zero too (e.g. 0101234567 for Hà Nội).
CODE_WIDTHS = {"province_code": 2, "commune_code": 5, "tax_code": 10}


# A pure function of short cell texts that an import repeats on every row (unit types, yes/no, sizes).
@functools.lru_cache(maxsize=4096)
def slug(text: str) -> str:
    """Lower case, no diacritics (đ -> d), words joined by "_": "Mã xã/phường" -> "ma_xa_phuong"."""
    decomposed = unicodedata.normalize("NFD", text.strip().casefold().replace("đ", "d"))
    plain = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^0-9a-z]+", "_", plain).strip("_")


AREA_HEADERS: dict[str, tuple[str, ...]] = {
    "level": ("Cấp", "Cấp hành chính", "Level"),
    "code": ("Mã", "Mã đơn vị hành chính", "Mã ĐVHC", "Code"),
    "name": ("Tên", "Tên đơn vị hành chính", "Tên ĐVHC", "Name"),
    "kind": ("Loại", "Loại đơn vị hành chính", "Kind"),
    "parent_code": ("Mã đơn vị cấp trên", "Mã cấp trên", "Parent code", "Parent"),
    "parent_level": ("Cấp của đơn vị cấp trên", "Cấp trên", "Parent level"),
    "effective_date": ("Ngày hiệu lực", "Effective date"),
    "legal_basis": ("Căn cứ pháp lý", "Căn cứ", "Legal basis"),
}
AREA_REQUIRED = ("level", "code", "name", "kind", "legal_basis")


class Schema:
    """The columns of one kind of import file: accepted headers per field and the required fields."""

    def __init__(self, headers: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> None:
        self.headers = headers
        self.required = required
        self.labels_vi = {field: names[0] for field, names in headers.items()}
        self._by_slug = {slug(h): field for field, names in headers.items() for h in (*names, field)}

    def field_for(self, header: str) -> str | None:
        """The field a column header names, or None for a column the import does not read."""
        return self._by_slug.get(slug(header))

    def map_headers(self, headers: list[str]) -> tuple[dict[int, str], dict[str, str], list[str]]:
        """Column index -> field, field -> header as written, and the headers that were ignored.

        Raises ImportFileError when a required column is missing or a field has two columns.
        """
        from services.registry.importing.errors import ImportFileError

        by_index: dict[int, str] = {}
        names: dict[str, str] = {}
        ignored: list[str] = []
        for i, header in enumerate(headers):
            if not header.strip():
                continue
            field = self.field_for(header)
            if field is None:
                ignored.append(header)
                continue
            if field in names:
                raise ImportFileError(f"Hai cột cùng chỉ {self.labels_vi[field]!r}: {names[field]!r} và {header!r}",
                                      f"two columns name {field}: {names[field]!r} and {header!r}", field=field)
            by_index[i] = field
            names[field] = header
        missing = [f for f in self.required if f not in names]
        if missing:
            vi = ", ".join(self.labels_vi[f] for f in missing)
            raise ImportFileError(f"Thiếu cột bắt buộc: {vi}", f"missing required columns: {', '.join(missing)}",
                                  field=missing[0])
        return by_index, names, ignored


UNITS = Schema(HEADERS, REQUIRED)
AREAS = Schema(AREA_HEADERS, AREA_REQUIRED)


def field_for(header: str) -> str | None:
    """The unit field a column header names (None: not read)."""
    return UNITS.field_for(header)


def map_headers(headers: list[str]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Unit columns of a header row (see Schema.map_headers)."""
    return UNITS.map_headers(headers)

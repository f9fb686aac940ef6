"""Check area rows (a parent may be created earlier in the same file) and create every area at once, or none."""

from __future__ import annotations

from collections.abc import Iterable

from antt.actor import Actor
from antt.errors import DomainError
from services.registry.application import Registry
from services.registry.area_commands import _default_parent_level, parse_kind, parse_level
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaKey, AreaLevel
from services.registry.domain.errors import AreaAlreadyExistsError, InvalidAreaFieldError
from services.registry.importing.columns import slug
from services.registry.importing.errors import ImportFileError, RowProblem
from services.registry.importing.reader import RawRow
from services.registry.importing.validate import parse_cell_date

LEVELS = {"national": "national", "toan_quoc": "national", "quoc_gia": "national", "province": "province",
          "tinh": "province", "cap_tinh": "province", "district": "district", "huyen": "district",
          "cap_huyen": "district", "commune": "commune", "xa": "commune", "cap_xa": "commune"}
CODE_DIGITS = {AreaLevel.PROVINCE: 2, AreaLevel.DISTRICT: 3, AreaLevel.COMMUNE: 5}


def _code(text: str, level: AreaLevel) -> str:
    """An official code whose leading zeros a spreadsheet dropped gets them back."""
    width = CODE_DIGITS.get(level, 0)
    return text.zfill(width) if text.isdigit() and len(text) < width else text


class AreaImport:
    """One import of areas: rows are checked in file order; commit() creates them all in one transaction."""

    def __init__(self, app: Registry, actor: Actor, columns: dict[str, str] | None = None) -> None:
        self.app = app
        self.actor = actor
        self.columns = dict(columns or {})
        self.areas: dict[AreaKey, AdminArea] = {}
        self.seen: dict[AreaKey, int] = {}
        self.problems: list[RowProblem] = []
        self.checked = 0

    def check(self, rows: Iterable[RawRow]) -> None:
        """Check rows; a bad row is recorded (first problem found), a good one is kept for commit."""
        for row in rows:
            self.checked += 1
            try:
                area = self._area(row)
            except DomainError as error:
                field = error.field or "code"
                self.problems.append(RowProblem(row.row_number, field, self.columns.get(field, field), error.reason,
                                                error.message_vi, error.message_en))
                continue
            self.seen[area.key] = row.row_number
            self.areas[area.key] = area

    def _area(self, row: RawRow) -> AdminArea:
        v = row.values
        level = parse_level(LEVELS.get(slug(v.get("level", "")), v.get("level", "")))
        code = _code(v.get("code", ""), level)
        key = AreaKey(level, code)
        if key in self.seen:
            raise InvalidAreaFieldError(f"Mã {code} trùng với dòng {self.seen[key]}",
                                        f"area code {code} repeats row {self.seen[key]}", field="code",
                                        reason="DUPLICATE_CODE_IN_FILE")
        parent = None
        if v.get("parent_code"):
            raw_level = v.get("parent_level", "")
            parent_level = parse_level(LEVELS.get(slug(raw_level), raw_level)) if raw_level \
                else _default_parent_level(level)
            parent_key = AreaKey(parent_level, _code(v["parent_code"], parent_level))
            parent = self.areas.get(parent_key) or self.app.get_area(parent_level, parent_key.code, "parent_code")
        area = AdminArea.establish(level, code, v.get("name", ""), parse_kind(slug(v.get("kind", ""))), parent,
                                   parse_cell_date(v.get("effective_date", ""), "effective_date"),
                                   v.get("legal_basis", ""), self.actor)
        try:
            self.app.get_area(level, code)
        except DomainError:
            return area
        raise AreaAlreadyExistsError(f"{level.value}:{code}")

    def commit(self) -> int:
        """Save every checked area in one transaction; refuses when any row was bad."""
        if self.problems:
            raise ImportFileError(f"Có {len(self.problems)} dòng lỗi; không ghi gì",
                                  f"{len(self.problems)} bad rows; nothing written", field="file",
                                  reason="IMPORT_HAS_BAD_ROWS")
        if self.areas:
            self.app.save_new_areas(*self.areas.values())
        return len(self.areas)

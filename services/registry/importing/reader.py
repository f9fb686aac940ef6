"""Reading an import file (CSV or XLSX) into numbered rows of text values per field; no validation here."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.registry.importing.columns import CODE_WIDTHS, UNITS, Schema
from services.registry.importing.errors import ImportFileError


@dataclass(frozen=True)
class RawRow:
    """One data row: its line number in the file (the header is row 1) and text per field."""

    row_number: int
    values: dict[str, str]


@dataclass
class Table:
    """A parsed import file: the header names per field, the ignored columns and the data rows."""

    columns: dict[str, str]
    ignored: list[str]
    rows: list[RawRow] = field(default_factory=list)


def cell_text(value: Any, field_name: str = "") -> str:
    """Text of a cell: dates as ISO, whole numbers without ".0", official codes with their leading zeros."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        return text.zfill(CODE_WIDTHS[field_name]) if field_name in CODE_WIDTHS else text
    return unicodedata.normalize("NFC", str(value)).strip()


def _table(records: Iterable[tuple[int, list[Any]]], schema: Schema = UNITS) -> Table:
    """Build a table from (row number, cells) records; the first non-empty record is the header."""
    it: Iterator[tuple[int, list[Any]]] = iter(records)
    for _, cells in it:
        headers = [cell_text(c) for c in cells]
        if any(headers):
            break
    else:
        raise ImportFileError("Tệp không có dòng tiêu đề", "the file has no header row", field="file")
    by_index, names, ignored = schema.map_headers(headers)
    table = Table(names, ignored)
    for number, cells in it:
        values = {f: cell_text(cells[i], f) if i < len(cells) else "" for i, f in by_index.items()}
        if any(values.values()):
            table.rows.append(RawRow(number, values))
    return table


def read_csv(data: bytes, schema: Schema = UNITS) -> Table:
    """A CSV file in UTF-8 (with or without BOM); the delimiter is sniffed among , ; and tab."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("Tệp CSV phải mã hoá UTF-8", "a CSV file must be UTF-8 encoded",
                              field="file") from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return _table(((reader.line_num, row) for row in reader), schema)


def read_xlsx(path: Path, schema: Schema = UNITS) -> Table:
    """The first worksheet of an XLSX workbook (cached values, not formulas): fast reader, openpyxl as fallback."""
    import zipfile
    from xml.etree.ElementTree import ParseError

    from services.registry.importing import xlsx

    try:
        return _table(xlsx.iter_rows(str(path)), schema)
    except (KeyError, ValueError, IndexError, ParseError, zipfile.BadZipFile):
        return _read_xlsx_openpyxl(path, schema)


def _read_xlsx_openpyxl(path: Path, schema: Schema = UNITS) -> Table:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"Không đọc được tệp XLSX: {exc}", f"cannot read the XLSX file: {exc}",
                              field="file") from None
    try:
        sheet = workbook.worksheets[0]
        return _table(((n, list(row)) for n, row in enumerate(sheet.iter_rows(values_only=True), start=1)), schema)
    finally:
        workbook.close()


def read_file(path: Path, schema: Schema = UNITS) -> Table:
    """Read a .csv or .xlsx file by its extension, with the columns of `schema` (units by default)."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImportFileError(f"Không tìm thấy tệp {path}", f"file {path} not found", field="file")
    if suffix == ".csv":
        return read_csv(path.read_bytes(), schema)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, schema)
    raise ImportFileError(f"Chỉ nhận tệp .csv hoặc .xlsx, không nhận {suffix or 'tệp không đuôi'}",
                          f"only .csv and .xlsx files are accepted, not {suffix or 'no extension'}", field="file")

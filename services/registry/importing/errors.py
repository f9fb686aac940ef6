"""Errors of an import: a file that cannot be read at all, and one bad row."""

from __future__ import annotations

from dataclasses import dataclass

from antt.errors import InvalidArgumentError


class ImportFileError(InvalidArgumentError):
    """The file as a whole cannot be imported (format, header row, required columns)."""

    reason = "IMPORT_FILE_INVALID"


@dataclass(frozen=True)
class RowProblem:
    """One bad row: its number in the file, the field (and column header), reason code, vi/en text."""

    row_number: int
    field: str
    column: str
    reason: str
    message_vi: str
    message_en: str

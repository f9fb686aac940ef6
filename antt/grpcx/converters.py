"""Request fields every service parses the same way; bad values are INVALID_ARGUMENT naming the field."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from antt.errors import InvalidArgumentError


def parse_date(value: str, field: str) -> date | None:
    """An ISO date, or None when empty."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(f"Ngày không hợp lệ: {value!r} (định dạng YYYY-MM-DD)",
                                   f"invalid date {value!r} (expected YYYY-MM-DD)", field=field) from None


def parse_uuid(value: str, field: str) -> UUID:
    """A UUID, or INVALID_ARGUMENT naming the field."""
    try:
        return UUID(value)
    except ValueError:
        raise InvalidArgumentError(f"Mã định danh không hợp lệ: {value!r}", f"invalid id {value!r}",
                                   field=field) from None

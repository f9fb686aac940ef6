"""Shape of every rule violation: a machine-readable reason, Vietnamese and English text, a kind.

Services define their own errors in domain/errors.py by subclassing these; the gRPC layer maps
the kind to a status code in one place (antt.grpcx.errors).
"""

from __future__ import annotations

import enum
from typing import TypeVar


class ErrorKind(enum.Enum):
    """Which gRPC status a domain error becomes."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"


class DomainError(Exception):
    """A broken rule, explained in Vietnamese and English."""

    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION
    reason: str = "RULE_VIOLATED"

    def __init__(self, message_vi: str, message_en: str, *, field: str = "", reason: str = "") -> None:
        self.message_vi = message_vi
        self.message_en = message_en
        self.field = field
        if reason:
            self.reason = reason
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """Both languages, Vietnamese first: "<vi> / <en>"."""
        return f"{self.message_vi} / {self.message_en}"


class InvalidArgumentError(DomainError):
    """A field of the request is malformed."""

    kind = ErrorKind.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"


class NotFoundError(DomainError):
    """The request names something that does not exist."""

    kind = ErrorKind.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExistsError(DomainError):
    """The thing to create exists already."""

    kind = ErrorKind.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPreconditionError(DomainError):
    """The system is not in a state where the command is allowed."""

    kind = ErrorKind.FAILED_PRECONDITION


E = TypeVar("E", bound=enum.Enum)


def parse_enum(enum_type: type[E], value: object, field: str, label_vi: str,
               error: type[DomainError] = InvalidArgumentError) -> E:
    """The member of `enum_type` with this value, or `error` naming the field and the valid values."""
    if isinstance(value, enum_type):
        return value
    try:
        return enum_type(value)
    except ValueError:
        valid = ", ".join(str(m.value) for m in enum_type)
        raise error(f"{label_vi} không hợp lệ: {value!r} (hợp lệ: {valid})",
                    f"invalid {field} {value!r} (valid: {valid})", field=field) from None

"""Registry rule violations, each with a reason code and Vietnamese and English text."""

from __future__ import annotations

from antt.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError


class InvalidUnitFieldError(InvalidArgumentError):
    """A unit field is empty, too long or has control characters."""

    reason = "INVALID_UNIT_FIELD"


class UnknownAreaError(NotFoundError):
    """The province or commune code is not an official code."""

    reason = "UNKNOWN_AREA"


class UnitAlreadyRegisteredError(AlreadyExistsError):
    """A unit with this code exists already."""

    reason = "UNIT_ALREADY_REGISTERED"

    def __init__(self, code: str) -> None:
        super().__init__(f"Đơn vị có mã {code} đã được đăng ký", f"A unit with code {code} is already registered",
                         field="code")


class UnitNotFoundError(NotFoundError):
    """No unit has this id."""

    reason = "UNIT_NOT_FOUND"

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"Không tìm thấy đơn vị {unit_id}", f"Unit {unit_id} not found", field="unit_id")

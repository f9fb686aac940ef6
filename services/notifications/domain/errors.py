"""Notifications rule violations, each with a reason code and Vietnamese and English text."""

from __future__ import annotations

from antt.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError


class LunarDateError(InvalidArgumentError):
    """A lunar date or year that the calendar cannot give (out of range, no such month or day)."""

    reason = "INVALID_LUNAR_DATE"


class InvalidCalendarError(InvalidArgumentError):
    """A deadline calendar document is malformed (unknown field value, impossible date, bad scope)."""

    reason = "INVALID_CALENDAR"


class InvalidReminderOffsetError(InvalidArgumentError):
    """Reminder offsets must be whole days before the deadline, at least 1."""

    reason = "INVALID_REMINDER_OFFSET"


class DeliveryAlreadySettledError(FailedPreconditionError):
    """A reminder delivery that is already sent or given up cannot change again."""

    reason = "DELIVERY_ALREADY_SETTLED"

    def __init__(self, key: str, status: str) -> None:
        super().__init__(f"Nhắc việc {key} đã ở trạng thái {status}, không thể thay đổi",
                         f"reminder delivery {key} is already {status} and cannot change", field="key")


class UnitNotFoundError(NotFoundError):
    """The registry replica of notifications does not know the unit."""

    reason = "UNIT_NOT_FOUND"

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"Không tìm thấy đơn vị {unit_id!r}", f"unit {unit_id!r} not found", field="unit_id")


class JurisdictionRequiredError(InvalidArgumentError):
    """A listing needs a unit or a jurisdiction (province or commune), not the whole country."""

    reason = "JURISDICTION_REQUIRED"

    def __init__(self) -> None:
        super().__init__("Cần chỉ rõ đơn vị hoặc tỉnh/xã", "a unit id or a province/commune code is required",
                         field="unit_id")

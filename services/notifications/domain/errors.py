"""Notifications rule violations, each with a reason code and Vietnamese and English text."""

from __future__ import annotations

from antt.errors import FailedPreconditionError, InvalidArgumentError


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

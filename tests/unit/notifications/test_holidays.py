"""Public holidays of the Labour Code 2019 Đ112, weekends and compensatory days off."""

from __future__ import annotations

from datetime import date

import pytest

from services.notifications.domain.holidays import (
    AdjacentDay,
    Holiday,
    HolidayPolicy,
    WorkingCalendar,
    holidays,
)

pytestmark = pytest.mark.unit


def test_2026_holidays_under_the_default_policy() -> None:
    # Tết 17/02/2026: 30 Tết (16/02) + mùng 1–4; Giỗ Tổ 26/04/2026 is a Sunday, made up on Monday 27/04.
    expected = [date(2026, 1, 1), date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18), date(2026, 2, 19),
                date(2026, 2, 20), date(2026, 4, 26), date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1),
                date(2026, 9, 1), date(2026, 9, 2)]
    assert [h.day for h in holidays(2026)] == expected
    assert [h.day for h in holidays(2026) if h.compensatory] == [date(2026, 4, 27)]


def test_a_tet_day_on_saturday_is_made_up_on_the_next_working_day() -> None:
    # Tết 29/01/2025: 28/01–01/02, and 01/02 is a Saturday.
    days = {h.day: h for h in holidays(2025)}
    assert days[date(2025, 2, 1)].name_vi == "Tết Âm lịch"
    assert days[date(2025, 2, 3)].compensatory


def test_the_tet_days_and_the_national_day_neighbour_are_configurable() -> None:
    policy = HolidayPolicy(tet_offsets=(-2, -1, 0, 1, 2), national_day_adjacent=AdjacentDay.AFTER,
                           compensate_weekend_holidays=False)
    days = {h.day for h in holidays(2026, policy)}
    assert {date(2026, 2, 15), date(2026, 2, 19)} <= days
    assert date(2026, 2, 20) not in days
    assert date(2026, 9, 3) in days and date(2026, 9, 1) not in days
    assert date(2026, 4, 27) not in days


def test_working_days_skip_weekends_and_holidays_and_honour_swaps() -> None:
    swapped_saturday = date(2026, 2, 7)
    extra = Holiday(date(2026, 2, 13), "Nghỉ hoán đổi", "Swapped day off")
    calendar = WorkingCalendar(HolidayPolicy(extra_days_off=(extra,), extra_working_days=frozenset({swapped_saturday})))
    assert calendar.is_working_day(swapped_saturday)
    assert not calendar.is_working_day(date(2026, 2, 13))
    assert not calendar.is_working_day(date(2026, 2, 17))
    assert calendar.next_working_day(date(2026, 2, 14)) == date(2026, 2, 23)
    assert calendar.previous_working_day(date(2026, 2, 20)) == date(2026, 2, 12)

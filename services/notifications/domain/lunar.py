"""Vietnamese lunar calendar (âm lịch) in UTC+7: month starts, leap months, Tết and Giỗ Tổ.

Rules of the Vietnamese (and Chinese) lunisolar calendar, computed in Vietnam's time zone:
1. a month starts on the civil day that contains a new moon;
2. month 11 is the month that contains the winter solstice (Sun at 270°);
3. when 13 new moons start between two months 11, the first month after month 11 that contains
   no major solar term (Sun at a multiple of 30°) is the leap month and repeats the number before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from services.notifications.domain.astronomy import new_moon, new_moon_index_near, sun_longitude, sun_reaches
from services.notifications.domain.errors import LunarDateError

TIMEZONE_HOURS = 7.0
MIN_YEAR = 1900
MAX_YEAR = 2100
_ORDINAL_TO_JD = 1721424.5  # JD at 00:00 UT of proleptic Gregorian ordinal 0


@dataclass(frozen=True)
class LunarMonth:
    """One lunar month: its number (1–12), whether it is a leap month, its first day and length."""

    year: int
    month: int
    leap: bool
    start: date
    days: int


@dataclass(frozen=True)
class LunarDate:
    """A day of the lunar calendar."""

    year: int
    month: int
    day: int
    leap: bool = False


def _local_ordinal(jd_ut: float) -> int:
    """Proleptic Gregorian ordinal of the civil day (UTC+7) containing a Julian Day."""
    return math.floor(jd_ut + TIMEZONE_HOURS / 24 - _ORDINAL_TO_JD)


def _local_midnight_jd(ordinal: int) -> float:
    """Julian Day (UT) of 00:00 UTC+7 on a civil day."""
    return ordinal + _ORDINAL_TO_JD - TIMEZONE_HOURS / 24


def _month_start_ordinal(k: int) -> int:
    return _local_ordinal(new_moon(k))


@lru_cache(maxsize=512)
def _month11_index(gregorian_year: int) -> int:
    """Lunation number k of the month that contains the December solstice of a Gregorian year."""
    guess = _local_midnight_jd(date(gregorian_year, 12, 21).toordinal())
    solstice_day = _local_ordinal(sun_reaches(270.0, guess))
    k = new_moon_index_near(guess)
    while _month_start_ordinal(k + 1) <= solstice_day:
        k += 1
    while _month_start_ordinal(k) > solstice_day:
        k -= 1
    return k


def _major_term_segment(ordinal: int) -> int:
    """Which 30° segment of the ecliptic the Sun is in at the start of a civil day."""
    return int(sun_longitude(_local_midnight_jd(ordinal)) // 30)


@lru_cache(maxsize=512)
def _sui(gregorian_year: int) -> tuple[tuple[int, int, bool, int], ...]:
    """Months from month 11 of Dec (year-1) up to month 11 of Dec (year): (k, number, leap, start)."""
    first, last = _month11_index(gregorian_year - 1), _month11_index(gregorian_year)
    starts = [_month_start_ordinal(k) for k in range(first, last + 1)]
    leap_position = 0
    if last - first == 13:
        for i in range(1, 13):
            if _major_term_segment(starts[i]) == _major_term_segment(starts[i + 1]):
                leap_position = i
                break
    months: list[tuple[int, int, bool, int]] = []
    number = 11
    for i in range(last - first):
        is_leap = i == leap_position and i > 0
        if i > 0 and not is_leap:
            number = number % 12 + 1
        months.append((first + i, number, is_leap, starts[i]))
    return tuple(months)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise LunarDateError(f"Năm {year} nằm ngoài phạm vi {MIN_YEAR}–{MAX_YEAR}",
                             f"year {year} is outside {MIN_YEAR}–{MAX_YEAR}", field="year")


@lru_cache(maxsize=256)
def _months_of_year(year: int) -> tuple[LunarMonth, ...]:
    """The 12 or 13 months of lunar year `year`, from month 1 to the last month 12."""
    this_sui, next_sui = _sui(year), _sui(year + 1)
    first_of_year = next(i for i, m in enumerate(this_sui) if m[1] == 1 and not m[2])
    first_of_next = next(i for i, m in enumerate(next_sui) if m[1] == 1 and not m[2])
    entries = list(this_sui[first_of_year:]) + list(next_sui[:first_of_next])
    end = next_sui[first_of_next][3]
    months = []
    for i, (_, number, leap, start) in enumerate(entries):
        following = entries[i + 1][3] if i + 1 < len(entries) else end
        months.append(LunarMonth(year, number, leap, date.fromordinal(start), following - start))
    return tuple(months)


def lunar_year(year: int) -> tuple[LunarMonth, ...]:
    """The months of a lunar year (1900–2100), in order, leap month included."""
    _check_year(year)
    return _months_of_year(year)


def leap_month(year: int) -> int | None:
    """The number of the leap month of a lunar year, or None in a common year."""
    return next((m.month for m in lunar_year(year) if m.leap), None)


def from_lunar(year: int, month: int, day: int, leap: bool = False) -> date:
    """The Gregorian date of a lunar date; rejects months and days that do not exist."""
    for m in lunar_year(year):
        if m.month == month and m.leap == leap:
            if not 1 <= day <= m.days:
                raise LunarDateError(f"Tháng {month} âm lịch năm {year} không có ngày {day}",
                                     f"lunar month {month} of {year} has no day {day}", field="day")
            return m.start + timedelta(days=day - 1)
    label_vi = "nhuận " if leap else ""
    raise LunarDateError(f"Năm {year} không có tháng {label_vi}{month} âm lịch",
                         f"lunar year {year} has no {'leap ' if leap else ''}month {month}", field="month")


def to_lunar(day: date) -> LunarDate:
    """The lunar date of a Gregorian date."""
    year = day.year if day >= tet(day.year) else day.year - 1
    if year < MIN_YEAR:
        _check_year(year)
    for m in reversed(_months_of_year(year)):
        if m.start <= day:
            return LunarDate(year, m.month, (day - m.start).days + 1, m.leap)
    raise AssertionError("unreachable: every day of a lunar year is in one of its months")


def tet(year: int) -> date:
    """Tết Nguyên Đán: the Gregorian date of 1 tháng Giêng (lunar 1/1) of `year`."""
    return lunar_year(year)[0].start


def gio_to_hung_vuong(year: int) -> date:
    """Giỗ Tổ Hùng Vương: the Gregorian date of 10 tháng Ba (lunar 10/3) of `year`."""
    return from_lunar(year, 3, 10)

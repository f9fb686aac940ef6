"""Vietnamese public holidays (Bộ luật Lao động 2019, Điều 112) and weekends: which days are not working days.

Confirmed by Đ112 k1: Tết Dương lịch (1 day, 1/1); Tết Âm lịch (5 days); Ngày Chiến thắng (30/4);
Quốc tế Lao động (1/5); Quốc khánh (2/9 and one adjacent day before or after); Giỗ Tổ Hùng Vương
(10/3 âm lịch). PROVISIONAL defaults, configurable because the law leaves them to a yearly decision
of the Prime Minister or they were not checked against the official text:
- which 5 days of Tết (default: the last day of the old lunar year and the first 4 of the new one);
- which day is adjacent to 2/9 (default 1/9);
- compensatory days off (nghỉ bù, BLLĐ 2019 Đ111 k3: a holiday on a weekly rest day is made up
  on the next working day) — default on;
- the weekend of state agencies (default Saturday and Sunday);
- yearly extra days off and swapped working days (hoán đổi ngày làm việc) are given as data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from services.notifications.domain.lunar import gio_to_hung_vuong, tet


class AdjacentDay(enum.Enum):
    """Which day joins Quốc khánh 2/9 (Đ112 k1 đ: one adjacent day, before or after)."""

    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True)
class Holiday:
    """A day off with its name in Vietnamese and English."""

    day: date
    name_vi: str
    name_en: str
    compensatory: bool = False


@dataclass(frozen=True)
class HolidayPolicy:
    """The configurable parts of the holiday rules (see the module docstring for the defaults)."""

    tet_offsets: tuple[int, ...] = (-1, 0, 1, 2, 3)  # days relative to lunar 1/1
    national_day_adjacent: AdjacentDay = AdjacentDay.BEFORE
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): 5 = Saturday, 6 = Sunday
    compensate_weekend_holidays: bool = True
    extra_days_off: tuple[Holiday, ...] = ()
    extra_working_days: frozenset[date] = field(default_factory=frozenset)


DEFAULT_POLICY = HolidayPolicy()


def _statutory(year: int, policy: HolidayPolicy) -> list[Holiday]:
    """The Đ112 holidays of a Gregorian year, without compensation."""
    days = [Holiday(date(year, 1, 1), "Tết Dương lịch", "New Year's Day")]
    new_year = tet(year)  # always 21/1–20/2, so every offset in ±20 days stays in the same year
    days.extend(Holiday(new_year + timedelta(days=offset), "Tết Âm lịch", "Lunar New Year (Tết)")
                for offset in policy.tet_offsets)
    days.append(Holiday(gio_to_hung_vuong(year), "Giỗ Tổ Hùng Vương", "Hung Kings' Commemoration Day"))
    days.append(Holiday(date(year, 4, 30), "Ngày Chiến thắng", "Reunification Day"))
    days.append(Holiday(date(year, 5, 1), "Ngày Quốc tế Lao động", "International Labour Day"))
    days.append(Holiday(date(year, 9, 2), "Quốc khánh", "National Day"))
    adjacent = date(year, 9, 1) if policy.national_day_adjacent is AdjacentDay.BEFORE else date(year, 9, 3)
    days.append(Holiday(adjacent, "Quốc khánh (ngày liền kề)", "National Day (adjacent day)"))
    days.extend(h for h in policy.extra_days_off if h.day.year == year)
    return days


@lru_cache(maxsize=512)
def holidays(year: int, policy: HolidayPolicy = DEFAULT_POLICY) -> tuple[Holiday, ...]:
    """Every public day off of a Gregorian year (1900–2100), compensatory days included, by date."""
    by_day: dict[date, Holiday] = {}
    for h in _statutory(year, policy):
        by_day.setdefault(h.day, h)
    if policy.compensate_weekend_holidays:
        taken = set(by_day)
        for h in sorted(by_day.values(), key=lambda h: h.day):
            if h.day.weekday() not in policy.weekend:
                continue
            day = h.day + timedelta(days=1)
            while day.weekday() in policy.weekend or day in taken:
                day += timedelta(days=1)
            taken.add(day)
            by_day.setdefault(day, Holiday(day, f"Nghỉ bù {h.name_vi}", f"{h.name_en} (compensatory day off)",
                                           compensatory=True))
    return tuple(sorted(by_day.values(), key=lambda h: h.day))


class WorkingCalendar:
    """Answers "is this a working day?" for state agencies under a holiday policy."""

    def __init__(self, policy: HolidayPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy

    def holiday(self, day: date) -> Holiday | None:
        """The holiday on `day`, or None."""
        return next((h for h in holidays(day.year, self.policy) if h.day == day), None)

    def is_working_day(self, day: date) -> bool:
        """True unless `day` is a weekend day or a holiday (a swapped working day always works)."""
        if day in self.policy.extra_working_days:
            return True
        return day.weekday() not in self.policy.weekend and self.holiday(day) is None

    def next_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def previous_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the last working day before it."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

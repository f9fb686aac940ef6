"""The Vietnamese lunar calendar: Tết and Giỗ Tổ against published dates, and its structure 1900–2100."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.notifications.domain.errors import LunarDateError
from services.notifications.domain.lunar import (
    LunarDate,
    from_lunar,
    gio_to_hung_vuong,
    leap_month,
    lunar_year,
    tet,
    to_lunar,
)

pytestmark = pytest.mark.unit

# Published Tết dates (Vietnam). 1968 and 1985 differ from China because Vietnam uses UTC+7:
# North Vietnam's Tết Mậu Thân was 29/01/1968; Tết Ất Sửu was 21/01/1985 (China: 20/02/1985).
# 2007 also differs (Vietnam 17/02, China 18/02).
KNOWN_TET = {
    1968: date(1968, 1, 29), 1985: date(1985, 1, 21), 2007: date(2007, 2, 17),
    2013: date(2013, 2, 10), 2014: date(2014, 1, 31), 2015: date(2015, 2, 19), 2016: date(2016, 2, 8),
    2017: date(2017, 1, 28), 2018: date(2018, 2, 16), 2019: date(2019, 2, 5), 2020: date(2020, 1, 25),
    2021: date(2021, 2, 12), 2022: date(2022, 2, 1), 2023: date(2023, 1, 22), 2024: date(2024, 2, 10),
    2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
}

KNOWN_GIO_TO = {
    2020: date(2020, 4, 2), 2022: date(2022, 4, 10), 2023: date(2023, 4, 29), 2024: date(2024, 4, 18),
    2025: date(2025, 4, 7), 2026: date(2026, 4, 26),
}


@pytest.mark.parametrize("year", sorted(KNOWN_TET))
def test_tet_matches_the_published_date(year: int) -> None:
    assert tet(year) == KNOWN_TET[year]


@pytest.mark.parametrize("year", sorted(KNOWN_GIO_TO))
def test_gio_to_hung_vuong_matches_the_published_date(year: int) -> None:
    assert gio_to_hung_vuong(year) == KNOWN_GIO_TO[year]


@pytest.mark.parametrize(("year", "month"), [(2020, 4), (2023, 2), (2025, 6), (2028, 5), (2024, None), (2026, None)])
def test_leap_months_match_the_published_calendar(year: int, month: int | None) -> None:
    assert leap_month(year) == month


def test_the_leap_month_shifts_gio_to_in_2023() -> None:
    # 2023 had a leap 2nd month, so 10/3 came a month later than 10/3 would without it.
    assert from_lunar(2023, 2, 1, leap=True) == date(2023, 3, 22)
    assert to_lunar(date(2023, 4, 29)) == LunarDate(2023, 3, 10)


def test_every_year_1900_to_2100_has_a_well_formed_lunar_year() -> None:
    for year in range(1900, 2101):
        months = lunar_year(year)
        total = sum(m.days for m in months)
        assert [m.month for m in months if not m.leap] == list(range(1, 13)), year
        assert sum(m.leap for m in months) == len(months) - 12, year
        assert all(m.days in (29, 30) for m in months), year
        assert total in ((353, 354, 355) if len(months) == 12 else (383, 384, 385)), (year, total)
        assert date(year, 1, 21) <= tet(year) <= date(year, 2, 20), year
        if year < 2100:
            assert months[0].start + timedelta(days=total) == tet(year + 1), year


def test_gregorian_and_lunar_dates_round_trip() -> None:
    day = date(2020, 1, 1)
    while day < date(2031, 1, 1):
        lunar = to_lunar(day)
        assert from_lunar(lunar.year, lunar.month, lunar.day, lunar.leap) == day
        day += timedelta(days=1)


def test_the_last_day_of_the_old_year_is_the_eve_of_tet() -> None:
    eve = to_lunar(date(2026, 2, 16))
    assert (eve.year, eve.month) == (2025, 12)
    assert eve.day in (29, 30)


@pytest.mark.parametrize("year", [1899, 2101])
def test_years_outside_1900_2100_are_refused(year: int) -> None:
    with pytest.raises(LunarDateError) as caught:
        tet(year)
    assert caught.value.reason == "INVALID_LUNAR_DATE"


def test_a_day_that_does_not_exist_is_refused_in_both_languages() -> None:
    with pytest.raises(LunarDateError) as caught:
        from_lunar(2026, 1, 31)
    assert "không có ngày 31" in caught.value.message_vi
    assert "has no day 31" in caught.value.message_en
    with pytest.raises(LunarDateError):
        from_lunar(2026, 5, 1, leap=True)  # 2026 has no leap month

"""Deadline calendars as data: bundled national and local calendars, overrides, versions, holiday rules."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.notifications.calendars import load_calendar_set, load_documents
from services.notifications.domain.calendar import UNIT_TYPES, CalendarSet, HolidayRule, ScopeLevel
from services.notifications.domain.calendar_data import build_calendar_set
from services.notifications.domain.errors import InvalidCalendarError
from services.notifications.domain.holidays import WorkingCalendar
from services.registry.domain.unit import UnitType

pytestmark = pytest.mark.unit

REFERENCE = Path(__file__).resolve().parents[3] / "services" / "registry" / "reference"
WORKING = WorkingCalendar()


def _rows(name: str) -> dict[str, dict[str, str]]:
    with (REFERENCE / name).open(encoding="utf-8") as f:
        return {row["code"]: row for row in csv.DictReader(f)}


def _due(calendars: CalendarSet, province: str, commune: str, year: int) -> dict[str, date]:
    return {d.rule.id: d.nominal for d in calendars.deadlines(province, commune, year)}


def test_unit_types_are_the_registry_unit_types() -> None:
    assert UNIT_TYPES == {t.value for t in UnitType}


def test_every_bundled_local_calendar_uses_an_official_code_and_name() -> None:
    provinces, communes = _rows("provinces_2025.csv"), _rows("communes_2025_all.csv")
    calendars = load_calendar_set()
    for code, cal in calendars.provinces.items():
        assert provinces[code]["name_vi"] == cal.name_vi
    for code, cal in calendars.communes.items():
        assert communes[code]["name_vi"] == cal.name_vi
        assert communes[code]["province_code"] == cal.province_code
    assert set(calendars.provinces) == {"40", "68"}
    assert set(calendars.communes) == {"11948", "00145"}


def test_local_plans_override_the_national_defaults() -> None:
    calendars = load_calendar_set()
    bach_long_vi = _due(calendars, "31", "11948", 2026)
    assert bach_long_vi["registration"] == date(2026, 1, 31)
    assert bach_long_vi["annual_results"] == date(2026, 10, 30)
    assert _due(calendars, "31", "11560", 2026)["registration"] == date(2026, 3, 31)  # elsewhere in Hải Phòng
    assert _due(calendars, "01", "00145", 2026)["annual_results"] == date(2026, 10, 31)
    nghe_an = _due(calendars, "40", "17329", 2026)
    assert (nghe_an["plan"], nghe_an["report_half_year"], nghe_an["report_year"]) == (
        date(2026, 3, 20), date(2026, 6, 10), date(2026, 12, 10))
    lam_dong = _due(calendars, "68", "24781", 2026)
    assert (lam_dong["results_to_province"], lam_dong["results_to_ministry"]) == (date(2026, 11, 5),
                                                                                 date(2026, 11, 15))
    assert "results_to_province" not in _due(calendars, "40", "17329", 2026)


def test_regulatory_decision_and_classification_deadlines_are_national() -> None:
    due = _due(load_calendar_set(), "01", "00070", 2026)
    assert due["decision_kdc"] == date(2026, 11, 15)
    assert due["decision_agency"] == due["decision_commune"] == date(2026, 11, 20)
    assert due["classification_kdc"] == date(2026, 11, 20)
    assert due["classification_other"] == due["classification_commune"] == date(2026, 11, 30)


def test_a_commune_calendar_applies_only_from_its_effective_date() -> None:
    # Bạch Long Vĩ's plan starts on 01/7/2025: its 31/01 does not reach back into 2025.
    assert _due(load_calendar_set(), "31", "11948", 2025)["registration"] == date(2025, 3, 31)


def test_a_commune_calendar_is_ignored_for_a_different_province() -> None:
    assert _due(load_calendar_set(), "01", "11948", 2026)["registration"] == date(2026, 3, 31)


def _deadline(rid: str, due: str, **extra: Any) -> dict[str, Any]:
    return {"id": rid, "kind": "report", "title_vi": "Báo cáo", "title_en": "Report",
            "owing": {"tier": "unit", "unit_types": ["co_quan"]}, "due": due, **extra}


def _national(*versions: dict[str, Any]) -> dict[str, Any]:
    return {"scope": "national", "code": "", "name_vi": "Toàn quốc", "versions": list(versions)}


def test_a_new_version_governs_deadlines_from_its_effective_date() -> None:
    calendars = build_calendar_set([_national(
        {"version": 1, "effective_from": date(2024, 1, 1),
         "deadlines": [_deadline("r", "31/03"), _deadline("q", "01/06")]},
        {"version": 2, "effective_from": date(2026, 3, 1), "deadlines": [_deadline("r", "15/03")]},
    )])
    assert _due(calendars, "01", "00070", 2025) == {"r": date(2025, 3, 31), "q": date(2025, 6, 1)}
    # 2026: 31/03 and 01/06 fall in v2's period; v2 says 15/03 for r and has no q.
    assert _due(calendars, "01", "00070", 2026) == {"r": date(2026, 3, 15)}


def test_a_local_calendar_can_remove_a_national_deadline() -> None:
    commune = {"scope": "commune", "code": "00070", "province_code": "01", "name_vi": "Phường Hoàn Kiếm",
               "versions": [{"version": 1, "effective_from": date(2025, 7, 1), "removed": ["q"]}]}
    calendars = build_calendar_set([_national({"version": 1, "effective_from": date(2024, 1, 1),
                                               "deadlines": [_deadline("q", "01/06")]}), commune])
    assert _due(calendars, "01", "00070", 2026) == {}
    assert _due(calendars, "01", "00082", 2026) == {"q": date(2026, 6, 1)}


@pytest.mark.parametrize(("rule", "due", "flagged"), [
    # 17/02/2026 is mùng 1 Tết; the Tết days are 16–20/02 (Mon–Fri), then the weekend 21–22/02.
    ("shift_forward", date(2026, 2, 23), False),
    ("shift_back", date(2026, 2, 13), False),
    ("flag", date(2026, 2, 17), True),
])
def test_a_deadline_on_tet_is_shifted_or_flagged_as_its_calendar_says(rule: str, due: date, flagged: bool) -> None:
    calendars = build_calendar_set([_national({"version": 1, "effective_from": date(2024, 1, 1), "holiday_rule": rule,
                                               "deadlines": [_deadline("on_tet", "17/02")]})])
    [deadline] = calendars.deadlines("01", "00070", 2026)
    assert deadline.holiday_rule is HolidayRule(rule)
    result = deadline.due_date(WORKING)
    assert (result.nominal, result.due, result.flagged) == (date(2026, 2, 17), due, flagged)
    assert result.day_off_reason == "Tết Âm lịch"


def test_a_deadline_rule_overrides_its_version_rule() -> None:
    calendars = build_calendar_set([_national({"version": 1, "effective_from": date(2024, 1, 1),
                                               "holiday_rule": "shift_forward",
                                               "deadlines": [_deadline("on_tet", "17/02", holiday_rule="flag")]})])
    assert calendars.deadlines("01", "00070", 2026)[0].due_date(WORKING).flagged


def test_bach_long_vi_registration_on_tet_2033_moves_past_the_holiday() -> None:
    # Tết 2033 is 31/01 (Mon): days off 30/01 (Sun)–03/02, the Sunday made up on Fri 04/02, weekend 05–06/02.
    [registration] = [d for d in load_calendar_set().deadlines("31", "11948", 2033) if d.rule.id == "registration"]
    result = registration.due_date(WORKING)
    assert (result.nominal, result.due) == (date(2033, 1, 31), date(2033, 2, 7))


def test_a_weekend_deadline_is_shifted_forward_by_default() -> None:
    [registration] = [d for d in load_calendar_set().deadlines("31", "11948", 2026) if d.rule.id == "registration"]
    assert registration.scope is ScopeLevel.COMMUNE
    assert registration.due_date(WORKING).due == date(2026, 2, 2)  # 31/01/2026 is a Saturday


@pytest.mark.parametrize(("document", "fragment"), [
    ({"scope": "commune", "code": 145, "province_code": "01", "name_vi": "x", "versions": []}, "quote it in YAML"),
    (_national({"version": 1, "effective_from": date(2024, 1, 1), "deadlines": [_deadline("r", "29/02")]}),
     "is not a date"),
    (_national({"version": 1, "effective_from": date(2024, 1, 1),
                "deadlines": [_deadline("r", "01/02", owing={"tier": "unit", "unit_types": ["tho_dan"]})]}),
     "unknown unit types"),
    (_national({"version": 1, "effective_from": date(2024, 1, 1),
                "deadlines": [_deadline("r", "01/02", recipient="district")]}), "invalid value 'district'"),
    (_national({"version": 1, "effective_from": "2024", "deadlines": []}), "missing effective date"),
])
def test_malformed_calendars_are_refused(document: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidCalendarError) as caught:
        build_calendar_set([document])
    assert fragment in caught.value.message_en
    assert caught.value.message_vi


def test_bundled_documents_are_one_per_scope() -> None:
    scopes = [(d["scope"], d["code"]) for d in load_documents()]
    assert len(scopes) == len(set(scopes)) == 5


def test_campaign_days_are_observances_not_deadlines() -> None:
    calendars = load_calendar_set()
    days = [day for day, _ in calendars.national.observances(2026)]
    assert days == [date(2026, 6, 26), date(2026, 8, 19), date(2026, 10, 4), date(2026, 11, 18)]
    assert not {date(2026, 8, 19), date(2026, 10, 4)} & {d.nominal for d in calendars.deadlines("31", "11948", 2026)}

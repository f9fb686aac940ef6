"""Obligations and reminders under the Bạch Long Vĩ calendar, overdue escalation digests per supervisor."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import pytest

from services.notifications.calendars import load_calendar_set
from services.notifications.domain.calendar import ObligationKind, Tier
from services.notifications.domain.errors import InvalidReminderOffsetError
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.schedule import (
    Obligation,
    Party,
    Reminder,
    ReminderPolicy,
    UnitRef,
    authority_obligations,
    escalation_digests,
    reminders_between,
    reminders_for,
    satisfied_by,
    unit_obligations,
)

pytestmark = pytest.mark.unit

CALENDARS = load_calendar_set()
WORKING = WorkingCalendar()
ICT = timezone(timedelta(hours=7))
BLV, HAI_PHONG = "11948", "31"

# Bạch Long Vĩ, 2026, worked out by hand (weekdays checked against a wall calendar):
# rule id -> (unit types, due date after the holiday rule, who is reminded: "unit" or the commune)
BLV_2026 = {
    "registration": ({"khu_dan_cu", "co_quan"}, date(2026, 2, 2), "unit"),  # 31/01 is a Saturday
    "plan": ({"co_quan"}, date(2026, 3, 31), "unit"),  # national Q1 default
    "annual_results": ({"khu_dan_cu", "co_quan"}, date(2026, 10, 30), "unit"),
    "decision_kdc": ({"khu_dan_cu"}, date(2026, 11, 16), "commune"),  # 15/11 is a Sunday
    "classification_kdc": ({"khu_dan_cu"}, date(2026, 11, 20), "commune"),
    "decision_agency": ({"co_quan"}, date(2026, 11, 20), "commune"),
    "classification_other": ({"co_quan"}, date(2026, 11, 30), "commune"),
}


def _at(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=ICT)


Sent = tuple[str, str, str, datetime]  # rule id, offset, recipient, instant


def _expected(unit_id: str, unit_type: str, skip: dict[str, set[str]] | None = None) -> set[Sent]:
    """The reminders of one unit, worked out without calling the code under test."""
    result = set()
    for rid, (types, due, who) in BLV_2026.items():
        if unit_type not in types:
            continue
        recipient = f"unit:{unit_id}" if who == "unit" else f"commune:{BLV}"
        instants = {"D-14": _at(due - timedelta(days=14)), "D-7": _at(due - timedelta(days=7)),
                    "D-1": _at(due - timedelta(days=1)), "overdue": _at(due + timedelta(days=1))}
        for offset, instant in instants.items():
            if offset not in (skip or {}).get(rid, set()):
                result.add((rid, offset, recipient, instant))
    return result


def _as_tuples(reminders: list[Reminder]) -> set[Sent]:
    return {(r.obligation.rule_id, r.offset, str(r.recipient), r.send_at) for r in reminders}


def test_a_residential_area_of_bach_long_vi_gets_the_expected_reminders_for_2026() -> None:
    unit = UnitRef("kdc-1", "khu_dan_cu", BLV, HAI_PHONG)
    obligations = unit_obligations(unit, 2026, CALENDARS, WORKING)
    reminders = [r for o in obligations for r in reminders_for(o)]
    assert _as_tuples(reminders) == _expected("kdc-1", "khu_dan_cu")
    assert len(reminders) == 4 * 4
    registration = next(o for o in obligations if o.kind is ObligationKind.REGISTRATION)
    assert (registration.owing, registration.recipient) == (Party(Tier.UNIT, "kdc-1"), Party(Tier.COMMUNE, BLV))


def test_a_closed_unit_has_no_obligations_and_gets_no_reminders() -> None:
    closed = UnitRef("kdc-2", "khu_dan_cu", BLV, HAI_PHONG, open=False)
    assert unit_obligations(closed, 2026, CALENDARS, WORKING) == []


def test_a_satisfied_obligation_gets_no_more_reminders() -> None:
    obligations = unit_obligations(UnitRef("cq-1", "co_quan", BLV, HAI_PHONG), 2026, CALENDARS, WORKING)
    done = satisfied_by(obligations, "cq-1", ObligationKind.REGISTRATION, 2026)
    year = (datetime(2026, 1, 1, tzinfo=ICT), datetime(2027, 1, 1, tzinfo=ICT))
    sent = _as_tuples(reminders_between(obligations, done, *year))
    assert sent == _expected("cq-1", "co_quan", skip={"registration": {"D-14", "D-7", "D-1", "overdue"}})


def test_offsets_are_configurable() -> None:
    [registration] = [o for o in unit_obligations(UnitRef("kdc-1", "khu_dan_cu", BLV, HAI_PHONG), 2026, CALENDARS,
                                                   WORKING) if o.rule_id == "registration"]
    policy = ReminderPolicy(offsets=(3,), send_time=time(7, 30), overdue_after_days=2)
    assert [(r.offset, r.send_at) for r in reminders_for(registration, policy)] == [
        ("D-3", datetime(2026, 1, 30, 7, 30, tzinfo=ICT)), ("overdue", datetime(2026, 2, 4, 7, 30, tzinfo=ICT))]
    with pytest.raises(InvalidReminderOffsetError):
        ReminderPolicy(offsets=(7, 7))
    with pytest.raises(InvalidReminderOffsetError):
        ReminderPolicy(offsets=(0,))


def test_a_simulated_year_of_200_units_sends_exactly_the_expected_reminders_once() -> None:
    # Units 0–49 register on 10/01 (before any reminder), 50–99 on 22/01 (after the D-14 reminder of
    # 19/01), 100–149 never; 150–199 are closed. Even numbers are residential areas, odd agencies.
    units = [UnitRef(f"u{i:03d}", "khu_dan_cu" if i % 2 == 0 else "co_quan", BLV, HAI_PHONG, open=i < 150)
             for i in range(200)]
    registered_on = {u.unit_id: date(2026, 1, 10) if i < 50 else date(2026, 1, 22)
                     for i, u in enumerate(units) if i < 100}
    obligations = [o for u in units for o in unit_obligations(u, 2026, CALENDARS, WORKING)]
    registration_keys = {unit_id: satisfied_by(obligations, unit_id, ObligationKind.REGISTRATION, 2026)
                         for unit_id in registered_on}
    sent = []
    day = date(2026, 1, 1)
    while day.year == 2026:  # the scheduler's clock, one day per tick
        satisfied: set[str] = set()  # registration events recorded before this day
        for unit_id, on in registered_on.items():
            if on < day:
                satisfied |= registration_keys[unit_id]
        start = datetime.combine(day, time(0, 0), tzinfo=ICT)
        sent += reminders_between(obligations, satisfied, start, start + timedelta(days=1))
        day += timedelta(days=1)

    keys = Counter(r.key for r in sent)
    assert max(keys.values()) == 1
    expected: set[tuple[str, Sent]] = set()
    for i, u in enumerate(units):
        if i >= 150:
            continue
        skip = {"registration": {"D-14", "D-7", "D-1", "overdue"}} if i < 50 else (
            {"registration": {"D-7", "D-1", "overdue"}} if i < 100 else {})
        expected |= {(u.unit_id, s) for s in _expected(u.unit_id, u.unit_type, skip)}
    actual = {(r.obligation.subject, (r.obligation.rule_id, r.offset, str(r.recipient), r.send_at)) for r in sent}
    assert actual == expected
    # 4 messages per obligation; a residential area has 4 obligations, an agency 5 (with the plan).
    # Registered early: no registration messages; registered on 22/01: only D-14; never: all 4.
    assert len(sent) == len(expected) == 25 * (12 + 16) + 25 * (13 + 17) + 25 * (16 + 20)


def _overdue_setup() -> list[Obligation]:
    units = [UnitRef("blv-a", "khu_dan_cu", BLV, HAI_PHONG), UnitRef("blv-b", "khu_dan_cu", BLV, HAI_PHONG),
             UnitRef("blv-c", "khu_dan_cu", BLV, HAI_PHONG), UnitRef("lb-a", "khu_dan_cu", "00145", "01"),
             UnitRef("lb-cq", "co_quan", "00145", "01")]
    return [o for u in units for o in unit_obligations(u, 2026, CALENDARS, WORKING)]


def test_escalation_sends_one_digest_per_supervisor_listing_every_overdue_unit() -> None:
    obligations = _overdue_setup()
    done = satisfied_by(obligations, "blv-c", ObligationKind.REGISTRATION, 2026)
    # On 01/04/2026: Bạch Long Vĩ registration (due 02/02) and Long Biên registration and plan
    # (national 31/03) are overdue; blv-c has registered.
    digests = escalation_digests(obligations, done, date(2026, 4, 1))
    assert [str(d.supervisor) for d in digests] == ["commune:00145", "commune:11948"]
    long_bien, bach_long_vi = digests
    assert bach_long_vi.subjects == ["blv-a", "blv-b"]
    assert {o.rule_id for o in bach_long_vi.items} == {"registration"}
    assert long_bien.subjects == ["lb-a", "lb-cq"]
    assert sorted((o.subject, o.rule_id) for o in long_bien.items) == [
        ("lb-a", "registration"), ("lb-cq", "plan"), ("lb-cq", "registration")]
    assert len({d.key for d in digests}) == 2


def test_overdue_decisions_escalate_past_the_commune_to_the_province() -> None:
    digests = escalation_digests(_overdue_setup(), set(), date(2026, 11, 17))
    [province] = [d for d in digests if d.supervisor == Party(Tier.PROVINCE, HAI_PHONG)]
    assert {(o.subject, o.rule_id) for o in province.items} == {
        ("blv-a", "decision_kdc"), ("blv-b", "decision_kdc"), ("blv-c", "decision_kdc")}


def test_authority_obligations_escalate_to_the_tier_they_report_to() -> None:
    provincial = authority_obligations(Tier.PROVINCE, "68", "", 2026, CALENDARS, WORKING)
    to_ministry = next(o for o in provincial if o.rule_id == "results_to_ministry")
    assert (str(to_ministry.owing), str(to_ministry.escalate_to)) == ("province:68", "ministry:BCA")
    assert to_ministry.due_date == date(2026, 11, 16)  # 15/11/2026 is a Sunday
    communal = authority_obligations(Tier.COMMUNE, "68", "24781", 2026, CALENDARS, WORKING)
    assert [(o.rule_id, str(o.recipient)) for o in communal] == [("results_to_province", "province:68")]

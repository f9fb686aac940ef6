"""What a scan sends at an instant: only the current stage of each open obligation, and daily digests."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from services.notifications.calendars import load_calendar_set
from services.notifications.domain.due import current_stage, due_digests, due_reminders
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.schedule import VIETNAM, UnitRef, unit_obligations

pytestmark = pytest.mark.unit

WORKING = WorkingCalendar()


def _registration(unit_id: str = "u1") -> object:
    [o] = [o for o in unit_obligations(UnitRef(unit_id, "khu_dan_cu", "11948", "31"), 2026, load_calendar_set(),
                                       WORKING) if o.rule_id == "registration"]
    return o


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=VIETNAM)


@pytest.mark.parametrize(("instant", "offset"), [
    (at(date(2026, 1, 19), 7), None),            # before D-14 (due Mon 02/02/2026)
    (at(date(2026, 1, 19)), "D-14"),
    (at(date(2026, 1, 25), 23), "D-14"),
    (at(date(2026, 1, 26)), "D-7"),
    (at(date(2026, 2, 1)), "D-1"),
    (at(date(2026, 2, 3)), "overdue"),
    (at(date(2026, 3, 4), 7), "overdue"),        # 30 days after the notice, minus an hour
    (at(date(2026, 3, 5)), None),                # past the overdue window: left to the digests
])
def test_only_the_current_stage_is_due(instant: datetime, offset: str | None) -> None:
    stage = current_stage(_registration(), instant)  # type: ignore[arg-type]
    assert (stage.offset if stage else None) == offset


def test_satisfied_obligations_are_not_reminded() -> None:
    o = _registration()
    assert due_reminders([o], set(), at(date(2026, 1, 26)))  # type: ignore[list-item]
    assert due_reminders([o], {o.key}, at(date(2026, 1, 26))) == []  # type: ignore[attr-defined,list-item]


def test_a_digest_goes_out_on_the_day_something_became_overdue_listing_everything_overdue() -> None:
    a, b = _registration("u1"), _registration("u2")
    [digest] = due_digests([a, b], set(), at(date(2026, 2, 3)))  # type: ignore[list-item]
    assert (str(digest.supervisor), digest.subjects) == ("commune:11948", ["u1", "u2"])
    assert due_digests([a, b], set(), at(date(2026, 2, 3), 7)) == []  # type: ignore[list-item]
    assert due_digests([a, b], set(), at(date(2026, 2, 4))) == []  # nothing new became overdue that day
    assert due_digests([a, b], {a.key, b.key}, at(date(2026, 2, 3))) == []  # type: ignore[attr-defined]
    assert digest.as_of + timedelta(days=0) == date(2026, 2, 3)


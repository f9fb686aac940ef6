"""The per-unit iCalendar feed: a unit's obligations of a year from the replica, rendered by domain.ical."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.engine import Engine

from services.notifications import queries
from services.notifications.domain import ical
from services.notifications.domain.calendar import CalendarSet
from services.notifications.domain.holidays import WorkingCalendar


def unit_calendar(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, unit_id: str, year: int,
                  today: date, stamp: datetime, include_past: bool = False) -> tuple[str, int]:
    """(text/calendar body, number of events): pending deadlines from `today` on, or every one with `include_past`."""
    views = queries.obligations(engine, calendars, working, year, today, unit_id=unit_id)
    unit = queries.find_unit(engine, unit_id)
    keep = [v for v in views if include_past or v.state is queries.ObligationState.PENDING]
    entries = [ical.CalendarEntry(v.obligation, v.state.label_vi, v.state.value.replace("_", " ")) for v in keep]
    name = f"Hạn ANTT {year} — {unit.name} ({unit.code})"
    return ical.render(name, unit.name, entries, stamp), len(entries)

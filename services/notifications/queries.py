"""Read-side questions over the replica and the ledger: deadlines, obligations and their state, deliveries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.notifications import projections
from services.notifications.application import deliveries
from services.notifications.domain.calendar import CalendarSet
from services.notifications.domain.errors import JurisdictionRequiredError, UnitNotFoundError
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.schedule import Obligation, UnitRef, unit_obligations


@dataclass(frozen=True)
class DeadlineView:
    """One unit's obligation with its state."""

    obligation: Obligation
    unit: projections.UnitRow
    satisfied: bool


def deadlines(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, province_code: str,
              commune_code: str, start: date, end: date) -> list[DeadlineView]:
    """Obligations of open units in a jurisdiction due in [start, end], by due date then unit code."""
    years = tuple(range(start.year, end.year + 1))
    with engine.connect() as conn:
        units = list(projections.iter_units(conn, province_code, commune_code))
        facts = projections.satisfied_facts(conn, years)
    found = []
    for u in units:
        for year in years:
            for o in unit_obligations(u.ref(), year, calendars, working):
                if start <= o.due_date <= end:
                    done = (u.unit_id, year, o.kind.value) in facts or (u.unit_id, year, projections.ALL_KINDS) in facts
                    found.append(DeadlineView(o, u, done))
    return sorted(found, key=lambda v: (v.obligation.due_date, v.unit.code, v.obligation.rule_id))


def upcoming(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, province_code: str,
             commune_code: str, start: date, days: int) -> list[DeadlineView]:
    """Deadlines due within `days` from `start`."""
    return deadlines(engine, calendars, working, province_code, commune_code, start, start + timedelta(days=days))


def overdue(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, province_code: str,
            commune_code: str, as_of: date) -> list[DeadlineView]:
    """Unsatisfied obligations of this year and the last whose due date is before `as_of`."""
    views = deadlines(engine, calendars, working, province_code, commune_code, date(as_of.year - 1, 1, 1),
                      as_of - timedelta(days=1))
    return [v for v in views if not v.satisfied]


def list_deliveries(engine: Engine, province_code: str = "", commune_code: str = "", status: str = "",
                    limit: int = 1000) -> list[dict[str, Any]]:
    """Ledger rows of a jurisdiction, newest first."""
    q = sa.select(deliveries).order_by(deliveries.c.updated_at.desc(), deliveries.c.key).limit(limit)
    if province_code:
        q = q.where(deliveries.c.province_code == province_code)
    if commune_code:
        q = q.where(deliveries.c.commune_code == commune_code)
    if status:
        q = q.where(deliveries.c.status == status)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


class ObligationState(enum.Enum):
    """Where an obligation stands on a date."""

    PENDING = "pending"
    SATISFIED = "satisfied"
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"  # the unit is closed or out of the movement's scope

    @property
    def label_vi(self) -> str:
        """The state in Vietnamese."""
        return {"pending": "đang chờ", "satisfied": "đã hoàn thành", "overdue": "quá hạn",
                "not_applicable": "không áp dụng"}[self.value]


@dataclass(frozen=True)
class ObligationView:
    """One obligation of a unit in a year, with its state on a date."""

    obligation: Obligation
    unit: projections.UnitRow
    state: ObligationState


def find_unit(engine: Engine, unit_id: str) -> projections.UnitRow:
    """A unit of the replica, open or not; UnitNotFoundError when unknown."""
    t = projections.units
    q = sa.select(t.c.unit_id, t.c.code, t.c.name, t.c.unit_type, t.c.province_code, t.c.commune_code, t.c.eligible,
                  t.c.closed, t.c.contact_email, t.c.contact_webhook).where(t.c.unit_id == unit_id)
    with engine.connect() as conn:
        row = conn.execute(q).first()
    if row is None:
        raise UnitNotFoundError(unit_id)
    return projections.UnitRow(*row)


def obligations(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, year: int, as_of: date,
                unit_id: str = "", province_code: str = "", commune_code: str = "") -> list[ObligationView]:
    """Every obligation of a year about a unit (or each unit of a jurisdiction), by due date then unit code."""
    if unit_id:
        units = [find_unit(engine, unit_id)]
    elif province_code or commune_code:
        with engine.connect() as conn:
            units = list(projections.iter_units(conn, province_code, commune_code, open_only=False))
    else:
        raise JurisdictionRequiredError()
    with engine.connect() as conn:
        facts = projections.satisfied_facts(conn, (year,))
    found = []
    for u in units:
        ref = UnitRef(u.unit_id, u.unit_type, u.commune_code, u.province_code, True)
        for o in unit_obligations(ref, year, calendars, working):
            if u.closed or not u.eligible:
                state = ObligationState.NOT_APPLICABLE
            elif (u.unit_id, year, o.kind.value) in facts or (u.unit_id, year, projections.ALL_KINDS) in facts:
                state = ObligationState.SATISFIED
            elif o.due_date < as_of:
                state = ObligationState.OVERDUE
            else:
                state = ObligationState.PENDING
            found.append(ObligationView(o, u, state))
    return sorted(found, key=lambda v: (v.obligation.due_date, v.unit.code, v.obligation.rule_id))

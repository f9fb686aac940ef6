"""What is due at an instant, commune by commune, streamed from SQL: the scan's and the preview's source.

The unit replica is read in one ordered query (units with their satisfied facts, by province and
commune), so only one commune's units are in memory at a time. Obligations depend on a unit's type,
commune and year only, so each (commune, type, year) computes its obligations and their current
reminder stage once; a unit then only adds its id. The result equals `scanner.snapshot` followed by
`due_reminders` / `due_digests` (tests/integration/test_notifications_sweep.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.eventstore.persistence import driver_cursor
from services.notifications import projections
from services.notifications.domain.calendar import CalendarSet, Tier
from services.notifications.domain.due import DuePolicy, current_stage, digest_send_at, due_digests, horizon
from services.notifications.domain.holidays import WorkingCalendar
from services.notifications.domain.ledger import reminder_key
from services.notifications.domain.schedule import (
    VIETNAM,
    EscalationDigest,
    Obligation,
    Party,
    Reminder,
    UnitRef,
    for_subject,
    unit_obligations,
)
from services.notifications.facts import Snapshot
from services.notifications.projections import UnitRow

_TEMPLATE = "template"  # stand-in unit id: obligations depend on type, commune and year only
STREAM_ROWS = 2000  # replica rows fetched at a time


class Stage:
    """The current reminder stage of an obligation template in one commune, with its notices' key parts.

    `base` is the stage of the template computed for the first commune of the same calendar layering;
    the commune's own (its authorities as parties) is built only when a notice needs more than its key.
    """

    def __init__(self, base: Reminder, commune_code: str, province_code: str) -> None:
        self.base = base
        self.commune_code = commune_code
        self.province_code = province_code
        o, r = base.obligation, base.recipient
        self.key_head = f"{o.year}/{o.rule_id}/"  # the unit id follows
        self.key_tail = f"|{base.offset}|"
        self.to_unit = r.tier is Tier.UNIT  # the notice goes to the unit itself (else to an authority)
        self.recipient_label = f"{r.tier.key_label}:" if self.to_unit else str(_at(r, commune_code, province_code))
        # (notice, offset, shared obligation facts) of the bulk claim: set once by the scanner, read per notice
        self.bulk_group: tuple[str, str, str] | None = None

    @cached_property
    def reminder(self) -> Reminder:
        """The stage of the template obligation (subject "template") in this commune."""
        b = self.base
        return replace(b, obligation=_moved(b.obligation, self.commune_code, self.province_code),
                       recipient=_at(b.recipient, self.commune_code, self.province_code))


@dataclass(slots=True)  # not frozen: one is made per notice, and a frozen init costs more
class DueNotice:
    """The current stage of one obligation template, for one unit: a reminder without its objects built."""

    stage: Stage
    unit: UnitRow
    key: str  # the reminder key, as `Reminder.key` of the built reminder
    recipient_label: str  # str(recipient)

    @property
    def recipient(self) -> Party:
        """Who the notice goes to (the unit itself, or the authority that owes about it)."""
        r = self.stage.reminder.recipient
        return Party(r.tier, self.unit.unit_id) if self.stage.to_unit else r

    def reminder(self) -> Reminder:
        """The full reminder (for texts and the channels that need them)."""
        return replace(self.stage.reminder, obligation=for_subject(self.stage.reminder.obligation, self.unit.unit_id),
                       recipient=self.recipient)


def _check_unit_id(uid: str) -> None:
    """Raise the ledger's error for a unit id it refuses as a key part (checked once per unit, not per notice)."""
    if "|" in uid or not uid:
        reminder_key(uid, "x", "x")


@dataclass
class Area:
    """One commune: its open units in scope, what is due for them, and its overdue obligations."""

    province_code: str
    commune_code: str
    snap: Snapshot  # the commune's units (what routing and texts need)
    due: list[DueNotice] = field(default_factory=list)
    overdue: list[Obligation] = field(default_factory=list)  # unsatisfied, in the digests' window


class Templates:
    """Obligation templates (subject "template") of a unit type in a commune and year, computed once per
    calendar layering: communes without a calendar of their own share their province's (or the national)
    due dates, and differ only in the commune and province codes of the parties."""

    def __init__(self, calendars: CalendarSet, working: WorkingCalendar) -> None:
        self.calendars = calendars
        self.working = working
        self._base: dict[tuple[str, str, str, int], list[Obligation]] = {}
        self._entries: dict[tuple[Any, ...], tuple[list[Obligation], list[tuple[Obligation, Reminder | None]]]] = {}

    def obligations(self, unit_type: str, commune_code: str, province_code: str, year: int) -> list[Obligation]:
        """`unit_obligations` of a unit of that type, commune and year (subject "template")."""
        return [_moved(o, commune_code, province_code) for o in self._of(unit_type, commune_code, province_code, year)]

    def _of(self, unit_type: str, commune_code: str, province_code: str, year: int) -> list[Obligation]:
        c = self.calendars
        own_commune = commune_code in c.communes and c.communes[commune_code].province_code == province_code
        layering = (province_code if province_code in c.provinces else "", commune_code if own_commune else "",
                    unit_type, year)
        base = self._base.get(layering)
        if base is None:
            ref = UnitRef(_TEMPLATE, unit_type, commune_code, province_code)
            base = self._base[layering] = unit_obligations(ref, year, c, self.working)
        return base

    def entries(self, unit_type: str, commune_code: str, province_code: str, year: int, now: datetime,
                policy: DuePolicy, first: date, last: date) -> list[tuple[Obligation, Reminder | None]]:
        """(base template, its current stage or None) of the templates due in [first, last]: computed once
        per layering and instant (the base's parties are those of the first commune met)."""
        base = self._of(unit_type, commune_code, province_code, year)
        key = (id(base), now, first, last)
        found = self._entries.get(key)
        if found is None or found[0] is not base:
            found = self._entries[key] = (base, [(t, current_stage(t, now, policy)) for t in base
                                                 if first <= t.due_date <= last])
        return found[1]


def _at(p: Party, commune_code: str, province_code: str) -> Party:
    """A party of a template in another commune and province of the same calendar layering."""
    if p.tier is Tier.COMMUNE:
        return Party(p.tier, commune_code)
    return Party(p.tier, province_code) if p.tier is Tier.PROVINCE else p


def _moved(o: Obligation, commune_code: str, province_code: str) -> Obligation:
    """The same template obligation in another commune and province of the same calendar layering."""
    return replace(o, owing=_at(o.owing, commune_code, province_code),
                   recipient=_at(o.recipient, commune_code, province_code),
                   escalate_to=_at(o.escalate_to, commune_code, province_code))


def _units_with_facts(engine: Engine, years: tuple[int, ...], province_code: str,
                      commune_code: str) -> Iterator[tuple[UnitRow, set[tuple[int, str]]]]:
    """Open units in scope by (province, commune, code), each with its satisfied (year, kind) facts."""
    u, s = projections.units, projections.satisfied
    joined = u.outerjoin(s, sa.and_(s.c.unit_id == u.c.unit_id, s.c.year.in_(years)))
    # eligible and closed are not read: the query keeps eligible, open units only (and SQLAlchemy's per-row
    # conversion of SQLite's 0/1 to booleans cost more than the row itself); its WHERE is the condition of the
    # partial index `ix_notifications_units_scan` (SQLite), which then gives the rows in this order
    q = (sa.select(u.c.unit_id, u.c.code, u.c.name, u.c.unit_type, u.c.province_code, u.c.commune_code,
                   u.c.contact_email, u.c.contact_webhook, s.c.year, s.c.kind).select_from(joined)
         .where(projections.SCANNED_UNITS)
         .order_by(u.c.province_code, u.c.commune_code, u.c.code, u.c.unit_id))
    if province_code:
        q = q.where(u.c.province_code == province_code)
    if commune_code:
        q = q.where(u.c.commune_code == commune_code)
    current: UnitRow | None = None
    facts: set[tuple[int, str]] = set()
    make = projections.open_unit_row
    with engine.connect() as conn:
        # By partition: iterating the result row by row cost more than building the units.
        for part in _partitions(conn, q):
            for r in part:
                if current is None or r[0] != current.unit_id:
                    if current is not None:
                        yield current, facts
                    current, facts = make(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]), set()
                if r[8] is not None:
                    facts.add((int(r[8]), r[9]))
        if current is not None:
            yield current, facts


def _partitions(conn: sa.Connection, q: sa.Select[Any]) -> Iterator[Sequence[Sequence[Any]]]:
    """The rows of a query of text and integer columns, STREAM_ROWS at a time.

    On SQLite straight from the driver's cursor, as its tuples (SQLite steps through the rows as they are fetched:
    a stream already; such columns need no result processing): SQLAlchemy's Row per replica row cost ≈ 6% of a
    preview. Elsewhere SQLAlchemy's streamed result (a server-side cursor on PostgreSQL).
    """
    if conn.dialect.name != "sqlite":
        yield from conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(q).partitions()
        return
    compiled = q.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    with driver_cursor(conn) as cursor:
        cursor.execute(compiled.string, [values[name] for name in compiled.positiontup or ()])
        while part := cursor.fetchmany(STREAM_ROWS):
            yield part


def areas(engine: Engine, calendars: CalendarSet, working: WorkingCalendar, now: datetime, policy: DuePolicy,
          province_code: str = "", commune_code: str = "") -> Iterator[Area]:
    """Each commune with open units in scope (of a jurisdiction, "" = all), by province and commune code."""
    first, last = horizon(now, policy)
    years = tuple(range(first.year, last.year + 1))
    today = now.astimezone(VIETNAM).date()
    digests_today = now >= digest_send_at(today, policy)
    oldest = today - timedelta(days=policy.overdue_window_days + policy.reminders.overdue_after_days)
    area: Area | None = None
    shared = Templates(calendars, working)
    # (unit type, year) -> [(base template, this commune's stage or None, its kind, overdue for the digests)]
    # for the current commune: what the loop over units reads, computed once
    templates: dict[tuple[str, int], list[tuple[Obligation, Stage | None, str, bool]]] = {}
    commune = province = ""  # the current area's codes
    units: dict[str, UnitRow] = {}
    due: list[DueNotice] = []
    for unit, facts in _units_with_facts(engine, years, province_code, commune_code):
        if unit.commune_code != commune or unit.province_code != province or area is None:
            if area is not None:
                yield area
            province, commune = unit.province_code, unit.commune_code
            area = Area(province, commune, Snapshot({}, [], set()))
            units, due, templates = area.snap.units, area.due, {}
        uid = unit.unit_id
        units[uid] = unit
        checked = False
        for year in years:
            group = templates.get((unit.unit_type, year))
            if group is None:
                group = templates[(unit.unit_type, year)] = [
                    (t, None if r is None else Stage(r, unit.commune_code, unit.province_code), t.kind.value,
                     digests_today and oldest <= t.due_date < today)
                    for t, r in shared.entries(unit.unit_type, unit.commune_code, unit.province_code, year, now,
                                               policy, first, last)]
            for template, stage, kind, overdue in group:
                if facts and ((year, kind) in facts or (year, projections.ALL_KINDS) in facts):
                    continue
                if stage is not None:
                    if not checked:
                        if "|" in uid or not uid:  # `_check_unit_id`, inline: this runs once per unit
                            _check_unit_id(uid)
                        checked = True
                    # the notice's key and recipient, built here: this line runs once per notice
                    recipient = stage.recipient_label + uid if stage.to_unit else stage.recipient_label
                    due.append(DueNotice(stage, unit, stage.key_head + uid + stage.key_tail + recipient, recipient))
                if overdue:
                    moved = _moved(template, unit.commune_code, unit.province_code)
                    area.overdue.append(for_subject(moved, unit.unit_id))
    if area is not None:
        yield area


def digests_of(overdue: list[Obligation], now: datetime, policy: DuePolicy,
               tiers: tuple[Tier, ...]) -> list[EscalationDigest]:
    """`due_digests` of unsatisfied overdue obligations, for the supervisors of the given tiers only.

    Digests group items by supervisor, so computing them per commune (commune supervisors) and once
    for the rest (province, Ministry) gives the same digests as computing them over everything.
    """
    return [d for d in due_digests([o for o in overdue if o.escalate_to.tier in tiers], (), now, policy)]

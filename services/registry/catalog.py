"""In-process read models of the registry, caught up from the application's notification log.

Areas are kept whole (as histories: every command checks places against them). Units are kept as
`UnitSummary` rows holding only what a listing filters on, and only once something lists units:
a national registry holds hundreds of thousands of units, and commands never need them all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from antt.eventstore.application import ServiceApplication
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaHistory, AreaKey
from services.registry.domain.facts import EligibilityFacts
from services.registry.domain.unit import Location, Unit, UnitType


def event_topics(aggregate: type) -> tuple[str, ...]:
    """The stored topics of every event class of an aggregate class."""
    base = aggregate.Event  # type: ignore[attr-defined]
    return tuple(sorted(get_topic(c) for c in vars(aggregate).values() if isinstance(c, type) and issubclass(c, base)))


AREA_TOPICS = event_topics(AdminArea)
UNIT_TOPICS = event_topics(Unit)


class UnitSummary:
    """What a listing filters a unit on: its type, dates, places and facts over time (no names or contacts)."""

    __slots__ = ("id", "code", "unit_type", "effective_date", "closed_on", "locations", "facts_history")

    def __init__(self, unit_id: UUID, code: str, unit_type: UnitType, effective_date: date,
                 location: Location) -> None:
        self.id = unit_id
        self.code = code
        self.unit_type = unit_type
        self.effective_date = effective_date
        self.closed_on: date | None = None
        self.locations: tuple[Location, ...] = (location,)
        self.facts_history: tuple[tuple[date, EligibilityFacts], ...] = ()

    # The Unit aggregate's own readings, over the same attributes: one rule for both.
    location_on = Unit.location_on
    facts_on = Unit.facts_on
    is_closed_on = Unit.is_closed_on


class Catalog:
    """Areas (as histories) and unit summaries, replayed from stored events; reading refreshes them."""

    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._lock = threading.RLock()
        self._position = 0
        self._areas: dict[UUID, AdminArea] = {}
        self._histories: dict[AreaKey, AreaHistory] = {}
        self._refresh_began = float("-inf")  # when the last refresh through histories() began
        self._units_lock = threading.Lock()
        self._unit_position = 0
        self._units: dict[UUID, UnitSummary] = {}
        self._ordered: list[UnitSummary] | None = None  # by code; rebuilt after units were added
        self._shared: dict[Any, Any] = {}  # equal locations and facts are kept once

    def _caught_up(self, after: int, topics: Sequence[str], apply: Callable[[Any], None]) -> int:
        """Apply the events of `topics` stored after `after`; return the position to resume from next time."""
        # Read the head first: anything at or below it is committed (ids are given out in commit
        # order), so the next read may start after it even when none of its rows had these topics.
        position = max(after, self._app.recorder.max_notification_id() or 0)
        for notification in self._app.iter_notifications(after, topics):  # page by page: bounded memory
            apply(self._app.mapper.to_domain_event(notification))
            position = max(position, notification.id)
        return position

    def refresh(self) -> None:
        """Apply every area event stored since the last refresh."""
        with self._lock:
            changed: set[UUID] = set()

            def apply(event: Any) -> None:
                self._areas[event.originator_id] = event.mutate(self._areas.get(event.originator_id))
                changed.add(event.originator_id)

            self._position = self._caught_up(self._position, AREA_TOPICS, apply)
            if changed:
                # Copy on write: readers keep the snapshot they were given, and most refreshes
                # (unit events only) return the same snapshot without copying thousands of areas.
                histories = dict(self._histories)
                for area_id in changed:
                    area = self._areas[area_id]
                    histories[area.key] = area.history()
                self._histories = histories

    def histories(self) -> dict[AreaKey, AreaHistory]:
        """Every area's history by (level, code), up to date: a shared snapshot, never to be mutated.

        Up to date means: a refresh that began after this call did. Concurrent commands waiting for
        the lock share the refresh of whichever of them runs first, rather than each reading again.
        """
        asked = time.monotonic()
        with self._lock:
            if self._refresh_began <= asked:
                self._refresh_began = time.monotonic()
                self.refresh()
            return self._histories

    def units(self) -> list[UnitSummary]:
        """A summary of every unit, up to date, ordered by code (a shared list, never to be mutated)."""
        with self._units_lock:
            self._unit_position = self._caught_up(self._unit_position, UNIT_TOPICS, self._apply)
            if self._ordered is None:
                self._ordered = sorted(self._units.values(), key=lambda u: u.code)
            return self._ordered

    def _apply(self, event: Any) -> None:
        if isinstance(event, Unit.Registered):
            location = self._share(Location(event.effective_date, event.province_code, event.commune_code))
            self._units[event.originator_id] = UnitSummary(event.originator_id, event.code, event.unit_type,
                                                           event.effective_date, location)
            self._ordered = None
            return
        unit = self._units[event.originator_id]
        if isinstance(event, Unit.EligibilityFactsDeclared):
            facts = EligibilityFacts(event.armed_forces, event.size_class, event.size_declared_on,
                                     frozenset(event.school_levels))
            unit.facts_history = (*unit.facts_history, self._share((event.effective_date, self._share(facts))))
        elif isinstance(event, Unit.Moved):
            location = Location(event.effective_date, event.province_code, event.commune_code)
            unit.locations = (*unit.locations, self._share(location))
        elif isinstance(event, Unit.Closed):
            unit.closed_on = event.effective_date
        # Updated and DetailsDeclared change nothing a listing filters on.

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)


"""Registry queries over units: place on a date, listing by area, history, eligibility (a Registry mixin)."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from antt.actor import Actor
from services.registry.catalog import Catalog
from services.registry.domain.eligibility import Eligibility, assess
from services.registry.domain.placement import UnitPlace, place_timeline, place_unit
from services.registry.domain.unit import Unit, UnitType, parse_unit_type


@dataclass(frozen=True)
class UnitView:
    """A unit with its place and eligibility on the date asked about."""

    unit: Unit
    place: UnitPlace
    eligibility: Eligibility


@dataclass(frozen=True)
class HistoryEntry:
    """One stored event of a unit: what, who, when recorded, from when effective."""

    version: int
    event: str
    recorded_at: datetime
    effective_date: date | None
    actor: Actor | None
    details: dict[str, Any]


_META = {"originator_id", "originator_version", "timestamp", "digest", "prev_digest", "originator_topic", "actor",
         "effective_date"}


def _last_open_day(unit: Unit) -> date:
    """The last day a closed unit existed (its registration day if it closed that same day)."""
    assert unit.closed_on is not None
    return max(unit.effective_date, unit.closed_on - timedelta(days=1))


def eligibility_of(unit: Unit, on: date) -> Eligibility:
    """The unit's eligibility on the date, from its type and the facts in force then."""
    return assess(unit.unit_type, unit.facts_on(on), closed=unit.is_closed_on(on))


class UnitQueries:
    """Read side over units, through the catalog (areas carried through reorganisations)."""

    catalog: Catalog
    repository: Any  # provided by the Application
    get_unit: Any

    def locate_unit(self, unit_id: UUID, on: date) -> UnitPlace | None:
        """The unit's commune and province on the date; None before registration or after closure."""
        return place_unit(self.get_unit(unit_id), self.catalog.histories(), on)

    def unit_places(self, unit_id: UUID) -> list[UnitPlace]:
        """Every place the unit has been in over time, with the date it started there."""
        return place_timeline(self.get_unit(unit_id), self.catalog.histories())

    def get_eligibility(self, unit_id: UUID, on: date | None = None) -> Eligibility:
        """Whether the unit is in scope on the date (today by default), with the reason code."""
        return eligibility_of(self.get_unit(unit_id), on or date.today())

    def list_units(self, on: date, *, province_code: str = "", commune_code: str = "",
                   unit_type: str | UnitType | None = None, eligible: bool | None = None,
                   after_code: str = "", limit: int = 100, status: str = "open") -> list[UnitView]:
        """Units on the date in an area (as the tree stood then), ordered by code; page with after_code.

        `status` is "open" (existing on the date), "closed" (closed by then; placed where they last were) or "all".
        """
        kind = parse_unit_type(unit_type.value if isinstance(unit_type, UnitType) else unit_type) \
            if unit_type else None
        histories = self.catalog.histories()
        views: list[UnitView] = []
        units = self.catalog.units()
        # Summaries are ordered by code: start at the page token instead of walking every unit before it.
        start = bisect.bisect_right(units, after_code, key=lambda u: u.code) if after_code else 0
        for summary in itertools.islice(units, start, None):
            if kind is not None and summary.unit_type is not kind:
                continue
            closed = summary.is_closed_on(on)
            if (status == "open" and closed) or (status == "closed" and not closed) or on < summary.effective_date:
                continue
            place = place_unit(summary, histories, on if not closed else _last_open_day(summary))  # type: ignore[arg-type]
            if place is None or (province_code and place.province_code != province_code):
                continue
            if commune_code and place.commune_code != commune_code:
                continue
            verdict = eligibility_of(summary, on)  # type: ignore[arg-type]
            if eligible is not None and verdict.eligible is not eligible:
                continue
            # Only the units of the page are read whole (names, contacts), as they stand now.
            views.append(UnitView(self.get_unit(summary.id), place, verdict))
            if len(views) >= limit:
                break
        return views

    def unit_history(self, unit_id: UUID) -> list[HistoryEntry]:
        """Every stored event of the unit, oldest first, with actor, recorded time and effective date."""
        self.get_unit(unit_id)  # NOT_FOUND for an unknown id
        entries = []
        for e in self.repository.event_store.get(unit_id):
            state = e.__dict__
            entries.append(HistoryEntry(
                e.originator_version, type(e).__name__, e.timestamp, state.get("effective_date"), state.get("actor"),
                {k: v for k, v in state.items() if k not in _META}))
        return entries

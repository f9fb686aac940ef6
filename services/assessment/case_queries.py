"""Read-side helpers over the Assessments application: paged listing by area, history with published forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from google.protobuf.message import Message

from antt.actor import Actor
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.states import CaseState
from services.assessment.published import AssessmentPublisher

SCAN_BATCH = 500


@dataclass(frozen=True)
class CasePage:
    """One page of cases and the scan position where the next page starts (None at the end)."""

    cases: list[AssessmentCase]
    next_index: int | None


def list_cases(app: Assessments, year: int, province_code: str = "", commune_code: str = "",
               state: CaseState | None = None, start: int = 0, limit: int = 100) -> CasePage:
    """Cases of a year for the units of an area (by unit code), optionally in one state, `limit` at a time."""
    directory: Any = app.units
    found: list[AssessmentCase] = []
    index = start
    while True:
        if hasattr(directory, "in_area"):
            batch = directory.in_area(province_code, commune_code, offset=index, limit=SCAN_BATCH)
        else:  # a directory without area queries (tests): only commune scope
            everything = list(directory.in_commune(commune_code))
            batch = everything[index:index + SCAN_BATCH]
        if not batch:
            return CasePage(found, None)
        for profile in batch:
            index += 1
            case = app.find_case(profile.unit_id, year)
            if case is not None and (state is None or case.state is state):
                found.append(case)
                if len(found) == limit:
                    return CasePage(found, index)


@dataclass(frozen=True)
class HistoryItem:
    """One stored event of an aggregate with its published form."""

    version: int
    event_type: str
    recorded_at: str
    effective_date: str
    actor: Actor | None
    digest: str
    prev_digest: str
    payload: Message | None


def history(app: Assessments, aggregate_id: UUID) -> list[HistoryItem]:
    """Every stored event of a case, classification or designation, oldest first."""
    publisher = AssessmentPublisher(app)
    items = []
    for event in app.history(aggregate_id):
        published = publisher.to_message(event)
        payload = published.payload if published is not None else None
        effective = event.__dict__.get("effective_date")
        actor = event.__dict__.get("actor")
        items.append(HistoryItem(
            version=event.originator_version,
            event_type=type(payload).DESCRIPTOR.name if payload is not None else type(event).__qualname__,
            recorded_at=event.timestamp.isoformat(), effective_date=effective.isoformat() if effective else "",
            actor=actor if isinstance(actor, Actor) else None, digest=event.__dict__.get("digest", ""),
            prev_digest=event.__dict__.get("prev_digest", ""), payload=payload))
    return items

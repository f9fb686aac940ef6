"""Saving collected events skips eventsourcing's Protocol checks and stores what `Application.save` stores."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from eventsourcing.application import Application, ProcessingEvent

from antt.actor import Actor
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import RuleCatalogue, UnitType

from .builders import YEAR, evidence, passing_results, profile

pytestmark = pytest.mark.unit


def stored(app: Assessments) -> list[tuple[Any, ...]]:
    """Every stored event, as bytes and keys."""
    return [(n.originator_id, n.originator_version, n.topic, n.state) for n in app.iter_notifications()]


def test_collected_events_are_stored_as_application_save_stores_them(
        catalogue: RuleCatalogue, actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    p = profile("KDC-SAVE", UnitType.KHU_DAN_CU)
    rules = catalogue.for_year(YEAR)
    case = AssessmentCase.register(p, YEAR, rules, [evidence("REG-FORM")], actor, date(YEAR, 1, 15))
    case.record_self_assessment(passing_results(rules, p), rules, actor, date(YEAR, 10, 1))
    case.submit(rules, [evidence("REC-REQUEST")], actor, date(YEAR, 10, 5))
    events = case.collect_events()
    fast, reference = (Assessments(rules=catalogue, units=StaticUnitDirectory([p])) for _ in range(2))

    Application.save(reference, *events)
    calls: list[int] = []
    original = ProcessingEvent.collect_events

    def counted(self: Any, *objs: Any, **kwargs: Any) -> None:
        calls.append(len(objs))
        original(self, *objs, **kwargs)
    monkeypatch.setattr(ProcessingEvent, "collect_events", counted)
    fast.save(*events)
    assert calls == []  # the events went straight in
    assert stored(fast) == stored(reference) and len(stored(fast)) == 3
    assert fast.get_case(case.id).state is reference.get_case(case.id).state
    assert fast.verify_chains() == []
    # anything that is not only events (an aggregate, keyword arguments) still takes Application.save
    other = AssessmentCase.register(profile("KDC-OTHER", UnitType.KHU_DAN_CU), YEAR, rules, [evidence("REG-FORM")],
                                    actor, date(YEAR, 1, 15))
    fast.save(other)
    assert calls == [1] and fast.get_case(other.id).version == 1

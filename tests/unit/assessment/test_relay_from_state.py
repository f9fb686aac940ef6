"""The relay's state path for assessment (a message from the stored JSON state) sends what decoding sends."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.actor import Actor
from antt.errors import DomainError
from antt.relay import state
from antt.relay.outbox import Published
from antt.testing.relay import assert_same_outgoing, offline_relay
from services.assessment.application import Assessments
from services.assessment.domain.states import ClosureReason, Outcome
from services.assessment.domain.units import StaticUnitDirectory, UnitProfile
from services.assessment.domain.values import CriterionResult, Finding
from services.assessment.published import AssessmentPublisher
from services.assessment.rules import UnitType, load_catalogue

from .builders import (
    REGISTERED_ON, YEAR, decision, evidence, passing_results, profile, tinh_authority, xa_authority,
)

pytestmark = pytest.mark.unit

CATALOGUE = load_catalogue()
TYPES = [UnitType.KHU_DAN_CU, UnitType.CO_SO_GIAO_DUC, UnitType.CO_QUAN, UnitType.DOANH_NGHIEP, UnitType.XA_PHUONG]
# Any text JSON can store (no lone surrogates); the domain refuses some of it, and those steps are left out.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
NOTES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)  # what the domain's texts accept
ACTORS = st.builds(Actor, id=TEXT, role=TEXT, tier=TEXT, jurisdiction=TEXT)
NUMBERS = st.none() | st.integers(-3, 120) | st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 3))
FINDINGS = st.lists(st.tuples(st.integers(0, 30), st.booleans(), NUMBERS.filter(lambda v: v is not None),
                              st.sampled_from([False, False, False, True]), NOTES), max_size=3)
ITEMS = st.fixed_dictionaries({"1": st.integers(0, 3), "2": st.integers(0, 3), "3": st.sampled_from([0, 2.5, 5]),
                               "4": st.integers(0, 80)})
UNITS = st.lists(st.fixed_dictionaries({
    "type": st.sampled_from(TYPES), "actor": ACTORS, "steps": st.integers(0, 6), "note": NOTES,
    "documents": st.lists(st.sampled_from(["REC-MINUTES", "PHOTO"]), max_size=2), "findings": FINDINGS,
    "returned": st.none() | NOTES, "outcome": st.sampled_from(Outcome), "revoke": st.booleans(),
    "close": st.sampled_from(ClosureReason), "items": st.none() | ITEMS, "reclassify": st.none() | ITEMS,
}), min_size=1, max_size=3)


class _Counting(AssessmentPublisher):
    """Counts the messages the state path made (so the equivalence is never vacuous)."""

    made = 0

    def to_message_from_state(self, stored: state.StoredState) -> Published | None:
        published = super().to_message_from_state(stored)
        self.made += published is not None
        return published


def _results(app: Assessments, p: UnitProfile, note: str) -> list[CriterionResult]:
    rules = CATALOGUE.for_year(YEAR)
    results = passing_results(rules, p)
    # The first result carries the drawn note and one more piece of evidence (titled by it).
    return [dataclasses.replace(r, note=note, evidence=(*r.evidence, evidence("PHOTO", note or "photo")))
            if i == 0 else r for i, r in enumerate(results)]


def _try(step: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return step(*args, **kwargs)
    except DomainError:  # a step the rules refuse (bad text, wrong state, the 70% rule) is left out
        return None


def _year(app: Assessments, i: int, u: dict[str, Any]) -> None:
    """One unit's case as far as `steps` goes, and a classification when it has items."""
    p = profile(f"U-{i}", u["type"])
    app.units.add(p)  # type: ignore[attr-defined]
    actor = u["actor"]
    case = _try(app.register_case, p.unit_id, YEAR, [evidence("REG-FORM", f"reg-{i}")], actor, REGISTERED_ON)
    steps = u["steps"] if case is not None else 0
    if steps >= 1:
        _try(app.record_self_assessment, case.id, _results(app, p, u["note"]), actor, date(YEAR, 10, 1),
             documents=[evidence(kind, f"{kind}-{i}") for kind in u["documents"]])
    if steps >= 2:
        _try(app.submit, case.id, [evidence("REC-REQUEST", f"req-{i}")], actor, date(YEAR, 10, 5))
    if steps >= 3:
        results = _results(app, p, "")
        # A finding of the kind its criterion takes (met or a value); now and then not applicable.
        findings = [Finding(r.criterion_id, met=met if r.met is not None else None,
                            value=value if r.value is not None else None, previous_value=r.previous_value,
                            not_applicable=na, note=note)
                    for k, met, value, na, note in u["findings"] for r in [results[k % len(results)]]]
        findings = list({f.criterion_id: f for f in findings}.values())
        if u["returned"] is not None and _try(app.appraise, case.id, findings, actor, date(YEAR, 10, 20),
                                              return_reason=u["returned"]) is not None:
            _try(app.submit, case.id, [], actor, date(YEAR, 10, 21))
        _try(app.appraise, case.id, [] if u["returned"] is not None else findings, actor, date(YEAR, 10, 21))
    if steps >= 4:
        by = tinh_authority() if u["type"] is UnitType.XA_PHUONG else xa_authority()
        _try(app.decide_many, {case.id: u["outcome"]}, decision(by, f"{i}/QĐ-UBND"), actor)
    if steps >= 5 and u["revoke"]:
        _try(app.revoke, case.id, decision(tinh_authority(), f"R{i}/QĐ", on=date(YEAR, 12, 1)),
             u["note"] or "Vi phạm", actor)
    if 1 <= steps < 4 and u["revoke"]:
        _try(app.close_case, case.id, u["close"], u["note"], actor, date(YEAR, 3, 1))
    if u["items"] is not None:
        c = _try(app.propose_classification, p.unit_id, YEAR, u["items"], actor, date(YEAR, 11, 1))
        if c is not None and _try(app.classify, c.id, decision(xa_authority(), f"C{i}", on=date(YEAR, 11, 25)),
                                  actor) is not None and u["reclassify"] is not None:
            _try(app.reclassify, c.id, u["reclassify"], u["note"] or "Kiểm tra lại",
                 decision(xa_authority(), f"K{i}", on=date(YEAR, 12, 10)), actor)


def assert_same_messages(app: Assessments, start: int = 0) -> int:
    """Every notification after `start` gives the same message both ways; return how many the state path made."""
    fast_publisher = _Counting(app)
    fast = offline_relay("assessment", app, fast_publisher, True)
    slow = offline_relay("assessment", app, AssessmentPublisher(app), False)
    assert fast._state_topics and not slow._state_topics
    assert_same_outgoing(fast, slow, app.recorder.select_notifications(start=start, limit=10_000, inclusive_of_start=False), "ASSESSMENT")
    return fast_publisher.made


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(units=UNITS, data=st.data())
def test_case_and_classification_events_from_their_state_are_the_messages_decoding_gives(
        units: list[dict[str, Any]], data: st.DataObject) -> None:
    app = Assessments(rules=CATALOGUE, units=StaticUnitDirectory())
    for i, u in enumerate(units):
        _year(app, i, u)
    last = app.recorder.max_notification_id() or 0
    made = assert_same_messages(app)
    assert made == last - sum(1 for n in app.iter_notifications() if n.topic not in AssessmentPublisher.state_topics)
    # A relay that starts mid-way (after a restart) meets later events first: their opening event is read.
    assert_same_messages(app, data.draw(st.integers(0, last), label="start"))


def test_every_event_type_of_the_fast_path_is_met_and_the_same() -> None:
    app = Assessments(rules=CATALOGUE, units=StaticUnitDirectory())
    actor = Actor("user:can-bo", "can_bo", "xa", "00004")
    full = dict(actor=actor, note="Ghi chú", documents=["REC-MINUTES"], findings=[(0, False, None, False, "Thiếu")],
                outcome=Outcome.DAT, close=ClosureReason.SAP_NHAP, reclassify=None)
    _year(app, 0, dict(full, type=UnitType.KHU_DAN_CU, steps=6, returned="Bổ sung", revoke=True, items=None,
                       findings=[]))
    _year(app, 1, dict(full, type=UnitType.KHU_DAN_CU, steps=2, returned=None, revoke=True, items=None))
    _year(app, 2, dict(full, type=UnitType.CO_SO_GIAO_DUC, steps=4, returned=None, revoke=False,
                       outcome=Outcome.CHUA_DAT, items={"1": 3, "2": 3, "3": 5, "4": 80},
                       reclassify={"1": 3, "2": 3, "3": 2.5, "4": 60}))
    topics = {n.topic for n in app.iter_notifications()}
    assert topics == set(AssessmentPublisher.state_topics)  # every topic of the fast path, none left out
    assert assert_same_messages(app) == app.recorder.max_notification_id()
    assert assert_same_messages(app, start=3) == app.recorder.max_notification_id() - 3


def test_a_unit_stored_without_its_code_is_decoded_and_the_same() -> None:
    # The decoding path looks such a classification's code up in the unit directory: the state path declines.
    app = Assessments(rules=CATALOGUE, units=StaticUnitDirectory())
    p = dataclasses.replace(profile("THPT-9", UnitType.CO_SO_GIAO_DUC), code="")
    app.units.add(p)  # type: ignore[attr-defined]
    actor = Actor("user:can-bo", "can_bo", "xa", "00004")
    c = app.propose_classification(p.unit_id, YEAR, {"1": 3, "2": 3, "3": 5, "4": 80}, actor, date(YEAR, 11, 1))
    app.classify(c.id, decision(xa_authority(), "C9", on=date(YEAR, 11, 25)), actor)
    app.units.add(dataclasses.replace(p, code="THPT-9"))  # type: ignore[attr-defined]
    assert assert_same_messages(app) == 0

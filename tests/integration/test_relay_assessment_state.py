"""The assessment relay's state path on SQLite files and PostgreSQL: the same messages as decoding,
also when a case's opening event is read back from the store (a relay started mid-way)."""

from __future__ import annotations

from datetime import date

import pytest

from antt.actor import Actor
from services.assessment.application import Assessments
from services.assessment.domain.states import Outcome
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import UnitType, load_catalogue
from tests.unit.assessment.builders import YEAR, appraised_in_app, decision, profile, xa_authority
from tests.unit.assessment.test_relay_from_state import assert_same_messages

pytestmark = pytest.mark.integration


def test_the_state_path_reads_opening_events_from_the_store(database_urls: dict[str, str]) -> None:
    directory = StaticUnitDirectory()
    app = Assessments(database_urls["assessment"], rules=load_catalogue(), units=directory)
    actor = Actor("user:can-bo", "can_bo", "xa", "00004")
    for i, kind in enumerate((UnitType.KHU_DAN_CU, UnitType.CO_SO_GIAO_DUC)):
        p = profile(f"U-{i}", kind)
        directory.add(p)
        case = appraised_in_app(app, p, actor)
        app.decide_many({case.id: Outcome.DAT}, decision(xa_authority(), f"{i}/QĐ-UBND"), actor)
        if kind is UnitType.CO_SO_GIAO_DUC:
            c = app.propose_classification(p.unit_id, YEAR, {"1": 3, "2": 3, "3": 5, "4": 80}, actor,
                                           date(YEAR, 11, 1))
            app.classify(c.id, decision(xa_authority(), f"C{i}", on=date(YEAR, 11, 25)), actor)
    last = app.recorder.max_notification_id() or 0
    assert last == 12
    assert assert_same_messages(app) == last
    # Started after each aggregate's opening event: every head is read back from the store.
    for start in (1, 6, 11):
        assert assert_same_messages(app, start) == last - start

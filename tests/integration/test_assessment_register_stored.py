"""A list of registrations asks the store which cases exist in one query: the same outcomes as the single
command, for cases stored by an earlier process (not in this one's case cache), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from antt.actor import Actor
from antt.errors import DomainError
from services.assessment.application import Assessments, Registration
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import UnitType, load_catalogue
from tests.unit.assessment.builders import REGISTERED_ON, YEAR, evidence, profile

pytestmark = pytest.mark.integration

ACTOR = Actor(id="user:can-bo-xa", role="can_bo", tier="xa", jurisdiction="00004")
UNITS = [profile(f"KDC-S{i}", UnitType.KHU_DAN_CU) for i in range(6)]


def outcome(result: AssessmentCase | DomainError) -> tuple[object, ...]:
    if isinstance(result, DomainError):
        return ("refused", result.reason)
    return ("ok", result.unit_code, result.version)


def app(url: str) -> Assessments:
    return Assessments(url, rules=load_catalogue(), units=StaticUnitDirectory(UNITS))


def test_cases_stored_by_another_process_are_refused_as_the_single_command_refuses_them(
        database_urls: dict[str, str]) -> None:
    url = database_urls["assessment"]
    earlier = app(url)
    for p in UNITS[:3]:
        earlier.register_case(p.unit_id, YEAR, [evidence("REG-FORM", p.code)], ACTOR, REGISTERED_ON)
    batch = [Registration(p.unit_id, YEAR, (evidence("REG-FORM", p.code),), REGISTERED_ON) for p in UNITS[1:]]
    batch.append(Registration(UNITS[0].unit_id, YEAR + 1, (evidence("REG-FORM", "next"),), date(YEAR + 1, 1, 15)))
    listed = app(url)  # a fresh process: its case cache knows nothing of the earlier cases
    assert len(listed.cases) == 0
    got = [outcome(r) for r in listed.register_cases(batch, ACTOR)]
    assert got == [("refused", "SECOND_CASE_FOR_YEAR")] * 2 + [("ok", p.code, 1) for p in UNITS[3:]] + [
        ("ok", UNITS[0].code, 1)]
    single = app(url)
    again = []
    for r in batch:
        try:
            again.append(outcome(single.register_case(r.unit_id, r.year, r.dossier, ACTOR, r.effective_date)))
        except DomainError as refused:
            again.append(outcome(refused))
    assert again == [("refused", "SECOND_CASE_FOR_YEAR")] * len(batch)  # everything is stored now

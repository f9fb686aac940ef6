"""The unit replica and the satisfied-obligation facts, fed with published payloads."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.events.v1 import assessment_pb2, registry_pb2
from services.notifications import projections
from tests.unit.notifications.helpers import received

pytestmark = pytest.mark.unit


@pytest.fixture
def conn() -> sa.Connection:
    engine = sa.create_engine("sqlite://")
    projections.metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection


def test_the_replica_accepts_a_units_events_in_any_order(conn: sa.Connection) -> None:
    projections.on_registry_event(conn, received("registry", registry_pb2.UnitUpdated(
        unit_id="u1", code="U1", name="Thôn 1", contact_email="a@b.vn", province_code="31",
        commune_code="11948"), "31", "11948"))
    assert [u.unit_type for u in projections.iter_units(conn)] == [""]  # known, but owes nothing yet
    projections.on_registry_event(conn, received("registry", registry_pb2.UnitRegistered(
        unit_id="u1", code="U1", name="Thôn 1", unit_type="khu_dan_cu", province_code="31",
        commune_code="11948", eligibility=registry_pb2.Eligibility(eligible=True)), "31", "11948"))
    [row] = projections.iter_units(conn)
    assert (row.unit_type, row.contact_email) == ("khu_dan_cu", "a@b.vn")


def test_moved_closed_and_out_of_scope_units(conn: sa.Connection) -> None:
    for uid, eligible in (("u1", True), ("u2", True), ("u3", False)):
        projections.on_registry_event(conn, received("registry", registry_pb2.UnitRegistered(
            unit_id=uid, code=uid.upper(), name=uid, unit_type="doanh_nghiep", province_code="31",
            commune_code="11948", eligibility=registry_pb2.Eligibility(eligible=eligible)), "31", "11948"))
    projections.on_registry_event(conn, received("registry", registry_pb2.UnitMoved(
        unit_id="u1", code="U1", from_province_code="31", from_commune_code="11948", province_code="01",
        commune_code="00145"), "01", "00145"))
    projections.on_registry_event(conn, received("registry", registry_pb2.UnitClosed(
        unit_id="u2", code="U2", reason="dissolved", province_code="31", commune_code="11948"), "31", "11948"))
    assert [(u.unit_id, u.commune_code) for u in projections.iter_units(conn)] == [("u1", "00145")]
    assert projections.recipient_count(conn) == 1
    projections.on_registry_event(conn, received("registry", registry_pb2.UnitEligibilityFactsDeclared(
        unit_id="u3", code="U3", unit_type="doanh_nghiep", province_code="31", commune_code="11948",
        size_class="vua", eligibility=registry_pb2.Eligibility(eligible=True)), "31", "11948"))
    assert projections.recipient_count(conn) == 2


def test_assessment_events_record_what_they_satisfy_once(conn: sa.Connection) -> None:
    for payload in (assessment_pb2.CaseRegistered(unit_id="u1", year=2026),
                    assessment_pb2.CaseRegistered(unit_id="u1", year=2026),  # a replay changes nothing
                    assessment_pb2.CaseDecided(unit_id="u1", year=2026, recognised=True),
                    assessment_pb2.ClassificationDecided(unit_id="u1", year=2026, level="kha"),
                    assessment_pb2.CaseClosed(unit_id="u2", year=2026, reason="giai_the"),
                    assessment_pb2.CaseSubmitted(unit_id="u3", year=2026)):  # satisfies nothing
        projections.on_assessment_event(conn, received("assessment", payload, "31", "11948"))
    assert projections.satisfied_facts(conn, (2026,)) == {
        ("u1", 2026, "registration"), ("u1", 2026, "decision"), ("u1", 2026, "classification"), ("u2", 2026, "*")}


@settings(max_examples=200)
@given(values=st.lists(st.text(max_size=6), min_size=8, max_size=8))
def test_an_open_unit_row_is_the_dataclass_made_by_its_init(values: list[str]) -> None:
    # The scan's constructor skips the frozen __init__: the row must be the same in every respect.
    made = projections.open_unit_row(*values)
    reference = projections.UnitRow(*values[:6], True, False, *values[6:])
    assert made == reference and hash(made) == hash(reference) and repr(made) == repr(reference)
    assert made.__dict__ == reference.__dict__ and list(made.__dict__) == list(reference.__dict__)
    assert made.ref() == reference.ref()
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.name = "x"  # type: ignore[misc]

"""The published language: every stored assessment event maps to its antt.events.v1 payload."""

from __future__ import annotations

from datetime import date

import pytest

from antt.actor import Actor
from antt.contracts import subjects, types
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.states import ClosureReason, Outcome
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.published import AssessmentPublisher
from services.assessment.rules import UnitType

from .builders import (
    COMMUNE, PROVINCE, REGISTERED_ON, YEAR, appraised_in_app, decision, evidence, profile, tinh_authority,
    xa_authority,
)

pytestmark = pytest.mark.unit

VILLAGE = profile("KDC-01", UnitType.KHU_DAN_CU)
SECOND = profile("KDC-02", UnitType.KHU_DAN_CU)
SCHOOL = profile("THPT-01", UnitType.CO_SO_GIAO_DUC)


def test_every_event_of_a_year_is_published_with_the_units_place(app: Assessments, directory: StaticUnitDirectory,
                                                                  actor: Actor) -> None:
    directory.add(VILLAGE, SECOND, SCHOOL)
    case = appraised_in_app(app, VILLAGE, actor)
    app.decide_many({case.id: Outcome.DAT}, decision(xa_authority(), "10/QĐ-UBND"), actor)
    app.revoke(case.id, decision(tinh_authority(), "30/QĐ-UBND", on=date(YEAR, 12, 1)), "Che giấu vụ việc", actor)
    other = app.register_case(SECOND.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    app.close_case(other.id, ClosureReason.SAP_NHAP, "Sáp nhập vào KDC-01", actor, date(YEAR, 3, 1))
    c = app.propose_classification(SCHOOL.unit_id, YEAR, {"1": 3, "2": 3, "3": 5, "4": 80}, actor, date(YEAR, 11, 1))
    app.classify(c.id, decision(xa_authority(), "20/QĐ-UBND", on=date(YEAR, 11, 25)), actor)
    app.reclassify(c.id, {"1": 3, "2": 3, "3": 5, "4": 60}, "Kiểm tra lại",
                   decision(xa_authority(), "21/QĐ-UBND", on=date(YEAR, 12, 10)), actor)
    d = app.designate_exemplary(SCHOOL.unit_id, YEAR, "qd9745-cqdn", 20,
                                decision(tinh_authority(), "40/QĐ", on=date(YEAR, 12, 15)), actor)
    app.withdraw_exemplary(d.id, decision(tinh_authority(), "41/QĐ", on=date(YEAR, 12, 20)), "Vi phạm", actor)

    publisher = AssessmentPublisher(app)
    published = [publisher.to_message(app.mapper.to_domain_event(n)) for n in app.iter_notifications()]
    assert all(p is not None for p in published)
    names = [type(p.payload).DESCRIPTOR.name for p in published if p is not None]
    assert names == ["CaseRegistered", "SelfAssessmentRecorded", "CaseSubmitted", "CaseAppraised", "CaseDecided",
                     "RecognitionRevoked", "CaseRegistered", "CaseClosed", "ClassificationProposed",
                     "ClassificationDecided", "Reclassified", "ExemplaryDesignated", "ExemplaryWithdrawn"]
    for p in published:
        assert p is not None
        payload = p.payload
        assert (p.province_code, p.commune_code) == (PROVINCE, COMMUNE)
        assert (payload.province_code, payload.commune_code, payload.year) == (PROVINCE, COMMUNE, YEAR)
        assert payload.unit_code in {"KDC-01", "KDC-02", "THPT-01"} and payload.meta.actor.id == actor.id
        # every payload is a registered ce-type and builds a valid subject
        ce = types.ce_type("assessment", payload)
        assert subjects.parse(subjects.for_event("assessment", types.event_name(ce), p.province_code,
                                                 p.commune_code)).service == "assessment"

    by_name = {type(p.payload).DESCRIPTOR.name: p.payload for p in published if p is not None}
    decided = by_name["CaseDecided"]
    assert decided.recognised and decided.decision_number == "10/QĐ-UBND" and decided.authority_tier == "xa"
    assert decided.rule_set_id == "tt124-tt48-2025" and decided.evaluations and all(
        e.met for e in decided.evaluations)
    assert decided.meta.aggregate_id == str(AssessmentCase.create_id(VILLAGE.unit_id, YEAR))
    assert decided.assessment_digest == app.get_case(case.id).decided_on_digest
    assert by_name["RecognitionRevoked"].reason == "Che giấu vụ việc"
    assert by_name["CaseClosed"].reason == "sap_nhap"
    reclassified = by_name["Reclassified"]
    assert (reclassified.previous_level, reclassified.level, reclassified.decision_number) == (
        "xuat_sac", "kha", "21/QĐ-UBND")
    assert by_name["ClassificationDecided"].level == "xuat_sac" and by_name["ClassificationDecided"].award_eligible
    designated = by_name["ExemplaryDesignated"]
    assert designated.criteria_met == 20 and designated.unit_type == "co_so_giao_duc"
    assert not designated.HasField("criteria_count")   # the set's count is UNCONFIRMED (null)

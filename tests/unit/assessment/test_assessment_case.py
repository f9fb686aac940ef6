"""AssessmentCase rules: the yearly path, each rejected step with its reason code."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from antt.actor import Actor
from antt.errors import DomainError, ErrorKind
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.states import CaseState, ClosureReason, Outcome
from services.assessment.domain.values import Authority, Basis, CriterionResult, EvidenceRef, Finding
from services.assessment.rules import RuleSet, Tier, UnitType

from .builders import (
    REGISTERED_ON, YEAR, appraised_case, decision, evidence, passing_results, profile, sha, tinh_authority,
    xa_authority,
)

pytestmark = pytest.mark.unit

KDC = profile("KDC-01", UnitType.KHU_DAN_CU)


def reason_of(exc: pytest.ExceptionInfo[DomainError]) -> str:
    """The machine-readable reason, after checking both languages are present."""
    assert exc.value.message_vi and exc.value.message_en
    return exc.value.reason


def registered(rules: RuleSet, actor: Actor, p=KDC) -> AssessmentCase:  # type: ignore[no-untyped-def]
    return AssessmentCase.register(p, YEAR, rules, [evidence("REG-FORM")], actor, REGISTERED_ON)


def test_a_whole_year_ends_in_recognition_with_an_explanation(rules: RuleSet, actor: Actor) -> None:
    case = appraised_case(rules, KDC, actor)
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    assert case.state is CaseState.CONG_NHAN and not case.late_decision
    explanation = case.explain()
    assert explanation.rule_set_id == rules.id == "tt124-tt48-2025"
    line = next(e for e in explanation.evaluations if e.criterion_id == "KDC-1c")
    assert (line.value, line.threshold, line.met, line.basis) == (100, "≥ 100 %", True, Basis.TU_DANH_GIA)
    assert len(explanation.evaluations) == len(rules.criteria_for(UnitType.KHU_DAN_CU))


def test_every_event_carries_actor_and_effective_date(rules: RuleSet, actor: Actor) -> None:
    case = appraised_case(rules, KDC, actor)
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    events = case.collect_events()
    assert [type(e).__name__ for e in events] == [
        "Registered", "SelfAssessmentRecorded", "Submitted", "Appraised", "Decided"]
    assert all(e.actor == actor and isinstance(e.effective_date, date) for e in events)
    assert events[-1].rule_set_id == rules.id and len(events[-1].assessment_digest) == 64


def test_an_ineligible_unit_cannot_register(rules: RuleSet, actor: Actor) -> None:
    small = profile("DN-NHO", UnitType.DOANH_NGHIEP, eligible=False)
    with pytest.raises(DomainError) as exc:
        registered(rules, actor, small)
    assert reason_of(exc) == "UNIT_NOT_ELIGIBLE" and exc.value.kind is ErrorKind.FAILED_PRECONDITION


def test_registration_needs_the_form_and_a_date_in_the_year(rules: RuleSet, actor: Actor) -> None:
    with pytest.raises(DomainError) as exc:
        AssessmentCase.register(KDC, YEAR, rules, [evidence("REG-PLAN")], actor, REGISTERED_ON)
    assert reason_of(exc) == "DOSSIER_INCOMPLETE"
    with pytest.raises(DomainError) as exc:
        AssessmentCase.register(KDC, YEAR, rules, [evidence("REG-FORM")], actor, date(YEAR + 1, 1, 5))
    assert reason_of(exc) == "INVALID_FIELD"


def test_a_registration_after_the_deadline_is_flagged_not_refused(rules: RuleSet, actor: Actor) -> None:
    late = AssessmentCase.register(KDC, YEAR, rules, [evidence("REG-FORM")], actor, date(YEAR, 3, 2))
    assert late.registered_late and not registered(rules, actor).registered_late


@pytest.mark.parametrize(("result", "expected"), [
    (CriterionResult("XX-9", met=True), "INVALID_ASSESSMENT"),                    # unknown criterion
    (CriterionResult("CQDN-1a", met=True), "INVALID_ASSESSMENT"),                 # another unit type's
    (CriterionResult("KDC-1c"), "INVALID_ASSESSMENT"),                            # numeric without value
    (CriterionResult("KDC-4a", value=2), "INVALID_ASSESSMENT"),                   # no previous-year value
    (CriterionResult("KDC-2"), "INVALID_ASSESSMENT"),                             # boolean without met
    (CriterionResult("KDC-2", not_applicable=True), "INVALID_ASSESSMENT"),        # not conditional
])
def test_malformed_self_assessments_are_rejected(rules: RuleSet, actor: Actor, result: CriterionResult,
                                                 expected: str) -> None:
    case = registered(rules, actor)
    with pytest.raises(DomainError) as exc:
        case.record_self_assessment([result], rules, actor, date(YEAR, 10, 1))
    assert reason_of(exc) == expected and exc.value.kind is ErrorKind.INVALID_ARGUMENT


def test_evidence_needs_a_sha256_digest() -> None:
    with pytest.raises(DomainError) as exc:
        EvidenceRef("REC-MINUTES", "s3://x.pdf", "not-a-digest")
    assert reason_of(exc) == "INVALID_EVIDENCE_DIGEST"
    assert EvidenceRef("REC-MINUTES", "s3://x.pdf", sha("x")).sha256 == sha("x")


def test_computed_commune_criteria_cannot_be_declared(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor, profile("XA-01", UnitType.XA_PHUONG, managed_by=Tier.TINH))
    with pytest.raises(DomainError) as exc:
        case.record_self_assessment([CriterionResult("XA-4b", value=90)], rules, actor, date(YEAR, 10, 1))
    assert reason_of(exc) == "INVALID_ASSESSMENT"


def test_steps_out_of_order_are_rejected(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    with pytest.raises(DomainError) as exc:
        case.submit(rules, [], actor, date(YEAR, 10, 5))
    assert reason_of(exc) == "STEP_OUT_OF_ORDER"
    with pytest.raises(DomainError) as exc:
        case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    assert reason_of(exc) == "STEP_OUT_OF_ORDER" and exc.value.kind is ErrorKind.FAILED_PRECONDITION
    with pytest.raises(DomainError) as exc:
        case.revoke(decision(xa_authority()), "sai phạm", rules, actor, date(YEAR, 12, 1))
    assert reason_of(exc) == "STEP_OUT_OF_ORDER"


def test_submitting_needs_every_declarable_criterion(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    case.record_self_assessment(passing_results(rules, KDC)[:3], rules, actor, date(YEAR, 10, 1))
    with pytest.raises(DomainError) as exc:
        case.submit(rules, [], actor, date(YEAR, 10, 5))
    assert reason_of(exc) == "SELF_ASSESSMENT_INCOMPLETE"


def test_appraisal_may_return_the_dossier_for_completion(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    case.record_self_assessment(passing_results(rules, KDC), rules, actor, date(YEAR, 10, 1))
    case.submit(rules, [], actor, date(YEAR, 10, 5))
    case.appraise([Finding("KDC-5", met=False, note="thiếu biên bản")], rules, actor, date(YEAR, 10, 8),
                  return_reason="Bổ sung biên bản đánh giá lực lượng")
    assert case.state is CaseState.TU_DANH_GIA and case.return_reason.startswith("Bổ sung")
    case.record_self_assessment([CriterionResult("KDC-5", met=True)], rules, actor, date(YEAR, 10, 10))
    case.submit(rules, [evidence("REC-MINUTES", "bien-ban-2")], actor, date(YEAR, 10, 11))
    case.appraise([Finding("KDC-5", met=True)], rules, actor, date(YEAR, 10, 20))
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    assert case.state is CaseState.CONG_NHAN


def test_recognition_needs_every_mandatory_criterion(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    results = [r if r.criterion_id != "KDC-1c" else dataclasses.replace(r, value=96) for r in
               passing_results(rules, KDC)]
    case.record_self_assessment(results, rules, actor, date(YEAR, 10, 1))
    case.submit(rules, [], actor, date(YEAR, 10, 5))
    case.appraise([Finding("KDC-4c3", met=False)], rules, actor, date(YEAR, 10, 20))
    with pytest.raises(DomainError) as exc:
        case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    assert reason_of(exc) == "UNMET_CRITERION" and "KDC-1c, KDC-4c3" in exc.value.message_en
    case.decide(Outcome.CHUA_DAT, decision(xa_authority()), rules, actor)
    line = next(e for e in case.explain().evaluations if e.criterion_id == "KDC-4c3")
    assert case.state is CaseState.KHONG_CONG_NHAN and (line.met, line.basis) == (False, Basis.THAM_DINH)


def test_an_appraiser_may_find_an_exempt_criterion_met_with_a_reason(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    results = [r if r.criterion_id != "KDC-4b" else CriterionResult("KDC-4b", value=1) for r in
               passing_results(rules, KDC)]
    case.record_self_assessment(results, rules, actor, date(YEAR, 10, 1))
    case.submit(rules, [], actor, date(YEAR, 10, 5))
    for finding in (Finding("KDC-4b", met=True, value=1),                    # no reason given
                    Finding("KDC-3a", met=True, value=1, note="bất khả kháng")):  # not an exempt criterion
        with pytest.raises(DomainError) as exc:
            case.appraise([finding], rules, actor, date(YEAR, 10, 20))
        assert reason_of(exc) == "INVALID_ASSESSMENT"
    note = "Phát hiện, xử lý và báo cáo ngay theo điểm b khoản 4 Điều 4"
    case.appraise([Finding("KDC-4b", met=True, value=1, note=note)], rules, actor, date(YEAR, 10, 20))
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    line = next(e for e in case.explain().evaluations if e.criterion_id == "KDC-4b")
    assert (line.met, line.value, line.exception, line.basis) == (True, 1, note, Basis.THAM_DINH)


def test_a_unit_cannot_declare_a_numeric_criterion_met(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    with pytest.raises(DomainError) as exc:
        case.record_self_assessment([CriterionResult("KDC-4b", met=True, value=1, note="x")], rules, actor,
                                    date(YEAR, 10, 1))
    assert reason_of(exc) == "INVALID_ASSESSMENT"


def test_a_derived_criterion_follows_its_components(rules: RuleSet, actor: Actor) -> None:
    school = profile("THPT-01", UnitType.CO_SO_GIAO_DUC)
    case = appraised_case(rules, school, actor)
    case.appraise([Finding("CQDN-3e", value=1)], rules, actor, date(YEAR, 10, 21),
                  return_reason="Vi phạm bảo vệ bí mật Nhà nước")
    explanation = case.explain(rules)
    derived = next(e for e in explanation.evaluations if e.criterion_id == "CSGD-3")
    assert (derived.met, derived.basis) == (False, Basis.TINH_TOAN)


def test_conditional_criteria_may_be_not_applicable(rules: RuleSet, actor: Actor) -> None:
    firm = profile("DN-01", UnitType.DOANH_NGHIEP)
    results = [r if r.criterion_id != "CQDN-1a" else CriterionResult("CQDN-1a", not_applicable=True)
               for r in passing_results(rules, firm)]
    case = AssessmentCase.register(firm, YEAR, rules, [evidence("REG-FORM")], actor, REGISTERED_ON)
    case.record_self_assessment(results, rules, actor, date(YEAR, 10, 1))
    case.submit(rules, [], actor, date(YEAR, 10, 5))
    case.appraise([], rules, actor, date(YEAR, 10, 20))
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    assert case.state is CaseState.CONG_NHAN


@pytest.mark.parametrize("authority_args", [
    (Tier.TINH, "UBND thành phố Hà Nội", "01"),   # wrong tier for a khu dân cư
    (Tier.XA, "UBND xã khác", "99999"),            # right tier, another commune
])
def test_a_decision_by_the_wrong_authority_is_rejected(rules: RuleSet, actor: Actor,
                                                       authority_args: tuple[Tier, str, str]) -> None:
    case = appraised_case(rules, KDC, actor)
    with pytest.raises(DomainError) as exc:
        case.decide(Outcome.DAT, decision(Authority(*authority_args)), rules, actor)
    assert reason_of(exc) == "WRONG_AUTHORITY"


def test_a_unit_managed_by_delegation_may_be_decided_by_the_delegate(rules: RuleSet, actor: Actor) -> None:
    firm = profile("DN-02", UnitType.DOANH_NGHIEP, managed_by=Tier.TINH, delegated_to=Tier.XA)
    case = appraised_case(rules, firm, actor)
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    assert case.decision is not None and case.decision.authority.tier is Tier.XA


def test_a_decision_needs_a_number() -> None:
    with pytest.raises(DomainError) as exc:
        decision(xa_authority(), number="  ")
    assert reason_of(exc) == "MISSING_DECISION_NUMBER" and exc.value.kind is ErrorKind.INVALID_ARGUMENT


def test_a_decision_on_a_stale_assessment_is_rejected(rules: RuleSet, actor: Actor) -> None:
    case = appraised_case(rules, KDC, actor)
    with pytest.raises(DomainError) as exc:
        case.decide(Outcome.DAT, decision(xa_authority()), rules, actor, expected_digest=sha("older"))
    assert reason_of(exc) == "STALE_ASSESSMENT"
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor, expected_digest=case.assessment_digest())
    assert case.decided_on_digest == case.assessment_digest()


def test_a_late_decision_is_allowed_and_flagged(rules: RuleSet, actor: Actor) -> None:
    case = appraised_case(rules, KDC, actor)
    case.decide(Outcome.DAT, decision(xa_authority(), on=date(YEAR, 11, 16)), rules, actor)
    assert case.state is CaseState.CONG_NHAN and case.late_decision


def test_revocation_by_the_decider_or_a_superior_only(rules: RuleSet, actor: Actor) -> None:
    case = appraised_case(rules, KDC, actor)
    case.decide(Outcome.DAT, decision(xa_authority()), rules, actor)
    with pytest.raises(DomainError) as exc:
        case.revoke(decision(Authority(Tier.XA, "UBND xã khác", "99999"), "9/QĐ"), "sai", rules, actor,
                    date(YEAR, 12, 1))
    assert reason_of(exc) == "WRONG_AUTHORITY"
    with pytest.raises(DomainError) as exc:
        case.revoke(decision(tinh_authority(), "9/QĐ"), " ", rules, actor, date(YEAR, 12, 1))
    assert reason_of(exc) == "INVALID_FIELD"
    case.revoke(decision(tinh_authority(), "9/QĐ-UBND", on=date(YEAR, 12, 1)), "Phát hiện tội phạm che giấu",
                rules, actor, date(YEAR, 12, 1))
    assert case.state is CaseState.THU_HOI and case.revocation is not None


def test_close_only_before_the_decision(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    case.close(ClosureReason.SAP_NHAP, "Sáp nhập vào thôn Đông", actor, date(YEAR, 5, 1))
    assert case.state is CaseState.DA_DONG
    decided = appraised_case(rules, KDC, actor)
    decided.decide(Outcome.CHUA_DAT, decision(xa_authority()), rules, actor)
    with pytest.raises(DomainError) as exc:
        decided.close(ClosureReason.GIAI_THE, "", actor, date(YEAR, 12, 1))
    assert reason_of(exc) == "STEP_OUT_OF_ORDER"


def test_commands_under_another_rule_set_are_rejected(rules: RuleSet, actor: Actor) -> None:
    case = registered(rules, actor)
    other = dataclasses.replace(rules, id="other")
    with pytest.raises(DomainError) as exc:
        case.record_self_assessment(passing_results(rules, KDC), other, actor, date(YEAR, 10, 1))
    assert reason_of(exc) == "RULE_SET_MISMATCH"


"""The AssessmentCase aggregate: one unit's yearly path to "An toàn về ANTT" (TT124 Đ3, Đ8–Đ10)."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Sequence
from datetime import date

from eventsourcing.domain import event

from antt.actor import Actor
from antt.eventstore.hashchain import ChainedAggregate, canonical_json
from services.assessment.domain.errors import (
    CommuneCoverageNotMetError, InvalidAssessmentError, InvalidFieldError, StaleAssessmentError,
    StepOutOfOrderError, UnitNotEligibleError, UnmetCriterionError, WrongAuthorityError,
)
from services.assessment.domain.evaluation import (
    UnitFacts, check_area, check_decider, declarable, evaluate, unmet, validate_result,
)
from services.assessment.domain.states import PRE_DECISION, CaseState, ClosureReason, Explanation, Outcome
from services.assessment.domain.units import UnitProfile
from services.assessment.domain.values import (
    CoverageFigures, CriterionEvaluation, CriterionResult, Decision, EvidenceRef, Finding, clean_text,
)
from services.assessment.rules.model import RuleSet
from services.assessment.rules.types import Tier, UnitType

DIGEST_MEMO = "_assessment_digest_memo"  # not state: a cache of assessment_digest() on the aggregate
CASE_NAMESPACE = uuid.UUID("0c7f3a52-9d41-5e8b-8f3e-2b6a1d4c2026")
CASE_IDS_REMEMBERED = 50_000  # (unit, year) -> case id: a few MB, more than a bench wave or a province's season


class AssessmentCase(ChainedAggregate):
    """A unit's case for one year; its id derives from (unit, year), so a second case collides."""

    @staticmethod
    @functools.lru_cache(maxsize=CASE_IDS_REMEMBERED)  # the 70% rule derives every unit's case id per decision
    def create_id(unit_id: uuid.UUID, year: int) -> uuid.UUID:
        """Case ids are UUID5 of (unit, year)."""
        return uuid.uuid5(CASE_NAMESPACE, f"{unit_id}:{year}")

    @classmethod
    def register(cls, profile: UnitProfile, year: int, rules: RuleSet, dossier: Sequence[EvidenceRef],
                 actor: Actor, effective_date: date) -> AssessmentCase:
        """Register an eligible unit for a year (TT124 Đ1 k2, Đ9 k2a); late registrations are flagged."""
        if not profile.eligible:
            why = profile.ineligible_reason
            raise UnitNotEligibleError(f"Đơn vị {profile.code} không thuộc đối tượng áp dụng: {why}",
                                       f"unit {profile.code} is out of TT124's scope: {why}", field="unit_id")
        missing = [k for k in rules.registration_dossier_required if k not in {d.kind for d in dossier}]
        if missing:
            raise InvalidFieldError(f"Hồ sơ đăng ký thiếu: {', '.join(missing)}",
                                    f"registration dossier lacks: {', '.join(missing)}", field="dossier",
                                    reason="DOSSIER_INCOMPLETE")
        calendar = rules.calendar(profile.unit_type)
        first, _ = calendar.evaluation_window(year)
        if not first <= effective_date <= calendar.decision_deadline.in_year(year):
            raise InvalidFieldError(f"Ngày đăng ký {effective_date:%d/%m/%Y} không thuộc năm đánh giá {year}",
                                    f"registration date {effective_date} is outside evaluation year {year}",
                                    field="effective_date")
        return cls(unit_id=profile.unit_id, year=year, unit_code=profile.code, unit_type=profile.unit_type,
                   province_code=profile.province_code, commune_code=profile.commune_code,
                   managed_by=profile.managed_by, delegated_to=profile.delegated_to, rule_set_id=rules.id,
                   dossier=tuple(dossier), late=effective_date > rules.registration_deadline.in_year(year),
                   actor=actor, effective_date=effective_date)

    @event("Registered")
    def __init__(self, unit_id: uuid.UUID, year: int, unit_code: str, unit_type: UnitType, province_code: str,
                 commune_code: str, managed_by: Tier, delegated_to: Tier | None, rule_set_id: str,
                 dossier: tuple[EvidenceRef, ...], late: bool, actor: Actor, effective_date: date) -> None:
        self.unit_id, self.year, self.unit_code = unit_id, year, unit_code
        self.unit = UnitFacts(unit_type, province_code, commune_code, managed_by, delegated_to)
        self.rule_set_id = rule_set_id
        self.registration_dossier = tuple(dossier)
        self.registered_late = late
        self.state = CaseState.DANG_KY
        self.results: dict[str, CriterionResult] = {}
        self.documents: tuple[EvidenceRef, ...] = ()
        self.findings: dict[str, Finding] = {}
        self.return_reason = ""
        self.outcome: Outcome | None = None
        self.decision: Decision | None = None
        self.evaluations: tuple[CriterionEvaluation, ...] = ()
        self.coverage: CoverageFigures | None = None
        self.decided_on_digest = ""
        self.late_decision = False
        self.revocation: Decision | None = None
        self.revocation_reason = ""
        self.closure_reason: ClosureReason | None = None
        self.last_effective_date = effective_date

    # -- guards ---------------------------------------------------------------------------------
    def _require(self, step: str, *states: CaseState) -> None:
        if self.state not in states:
            raise StepOutOfOrderError(step, self.state.label_vi, self.state.value)

    def _check_rules(self, rules: RuleSet) -> None:
        if rules.id != self.rule_set_id:
            raise InvalidFieldError(f"Hồ sơ theo bộ quy tắc {self.rule_set_id}, không phải {rules.id}",
                                    f"case is governed by rule set {self.rule_set_id}, not {rules.id}",
                                    field="rule_set_id", reason="RULE_SET_MISMATCH")

    def assessment_digest(self) -> str:
        """SHA-256 of the assessment as it now stands (results, documents, findings)."""
        # Remembered until an event changes results, documents or findings (each such handler forgets it):
        # a decision and its reply would otherwise compute it twice over the same assessment.
        known: str | None = self.__dict__.get(DIGEST_MEMO)
        if known is None:
            # = json.dumps(canonical(body), sort_keys=True, ensure_ascii=False): json's default separators
            body = {"results": self.results, "documents": self.documents, "findings": self.findings}
            known = hashlib.sha256(canonical_json(body, compact=False).encode()).hexdigest()
            self.__dict__[DIGEST_MEMO] = known
        return known

    def _assessment_changed(self) -> None:
        self.__dict__.pop(DIGEST_MEMO, None)

    # -- self-assessment, submission, appraisal -------------------------------------------------
    def record_self_assessment(self, results: Sequence[CriterionResult], rules: RuleSet, actor: Actor,
                               effective_date: date, documents: Sequence[EvidenceRef] = ()) -> None:
        """Record (or complete) the unit's per-criterion results and evidence (TT124 Đ9 k1)."""
        self._require("record_self_assessment", CaseState.DANG_KY, CaseState.TU_DANH_GIA)
        self._check_rules(rules)
        ids = [r.criterion_id for r in results]
        if not ids or len(set(ids)) != len(ids):
            raise InvalidAssessmentError("Cần ít nhất một kết quả, mỗi tiêu chí một lần",
                                         "at least one result, each criterion once", field="results")
        for r in results:
            validate_result(rules, self.unit, r)
        self._self_assessed(results=tuple(results), documents=tuple(documents), actor=actor,
                            effective_date=effective_date)

    @event("SelfAssessmentRecorded")
    def _self_assessed(self, results: tuple[CriterionResult, ...], documents: tuple[EvidenceRef, ...],
                       actor: Actor, effective_date: date) -> None:
        self._assessment_changed()
        self.results.update({r.criterion_id: r for r in results})
        self.documents = (*self.documents, *documents)
        self.state = CaseState.TU_DANH_GIA
        self.last_effective_date = effective_date

    def submit(self, rules: RuleSet, dossier: Sequence[EvidenceRef], actor: Actor, effective_date: date) -> None:
        """Submit the recognition dossier; every declarable criterion must have a result (TT124 Đ9 k2b)."""
        self._require("submit", CaseState.TU_DANH_GIA)
        self._check_rules(rules)
        missing = [c for c in declarable(rules, self.unit) if c not in self.results]
        if missing:
            raise InvalidAssessmentError(f"Chưa tự đánh giá các tiêu chí: {', '.join(missing)}",
                                         f"no self-assessment for criteria: {', '.join(missing)}",
                                         field="results", reason="SELF_ASSESSMENT_INCOMPLETE")
        self._submitted(dossier=tuple(dossier), actor=actor, effective_date=effective_date)

    @event("Submitted")
    def _submitted(self, dossier: tuple[EvidenceRef, ...], actor: Actor, effective_date: date) -> None:
        self._assessment_changed()
        self.documents = (*self.documents, *dossier)
        self.state = CaseState.DA_NOP
        self.last_effective_date = effective_date

    def appraise(self, findings: Sequence[Finding], rules: RuleSet, actor: Actor, effective_date: date,
                 return_reason: str = "") -> None:
        """Record findings per criterion; with a reason, return the dossier for completion instead."""
        self._require("appraise", CaseState.DA_NOP, *((CaseState.DA_THAM_DINH,) if return_reason else ()))
        self._check_rules(rules)
        for f in findings:
            validate_result(rules, self.unit, f)
        if return_reason:
            reason = clean_text(return_reason, "return_reason", "Lý do trả hồ sơ")
            self._returned(findings=tuple(findings), reason=reason, actor=actor, effective_date=effective_date)
        else:
            self._appraised(findings=tuple(findings), actor=actor, effective_date=effective_date)

    @event("Appraised")
    def _appraised(self, findings: tuple[Finding, ...], actor: Actor, effective_date: date) -> None:
        self._assessment_changed()
        self.findings.update({f.criterion_id: f for f in findings})
        self.state = CaseState.DA_THAM_DINH
        self.last_effective_date = effective_date

    @event("ReturnedForCompletion")
    def _returned(self, findings: tuple[Finding, ...], reason: str, actor: Actor, effective_date: date) -> None:
        self._assessment_changed()
        self.findings.update({f.criterion_id: f for f in findings})
        self.return_reason = reason
        self.state = CaseState.TU_DANH_GIA
        self.last_effective_date = effective_date

    # -- decision, revocation, closure ------------------------------------------------------------
    def decide(self, outcome: Outcome, decision: Decision, rules: RuleSet, actor: Actor,
               coverage: CoverageFigures | None = None, expected_digest: str = "") -> None:
        """Decide under the authority map; recognition needs every criterion met (and, for a commune, 70%)."""
        self._require("decide", CaseState.DA_THAM_DINH)
        self._check_rules(rules)
        check_decider(rules, self.unit, decision.authority, decision.date)
        digest = self.assessment_digest()
        if expected_digest and expected_digest != digest:
            raise StaleAssessmentError("Hồ sơ đã thay đổi so với phiên bản được quyết định",
                                       "the assessment changed since the version the decision names",
                                       field="assessment_digest")
        evaluations = evaluate(rules, self.unit, self.results, self.findings, coverage)
        if outcome is Outcome.DAT:
            if self.unit.unit_type is UnitType.XA_PHUONG:
                self._check_coverage(rules, coverage)
            failed = unmet(evaluations)
            if failed:
                raise UnmetCriterionError(failed)
        late = decision.date > rules.calendar(self.unit.unit_type).decision_deadline.in_year(self.year)
        self._decided(outcome=outcome, decision=decision, rule_set_id=rules.id, evaluations=evaluations,
                      coverage=coverage, assessment_digest=digest, late=late, actor=actor,
                      effective_date=decision.date)

    def _check_coverage(self, rules: RuleSet, coverage: CoverageFigures | None) -> None:
        rule = rules.coverage
        if (coverage is None or coverage.managed == 0 or coverage.registered_pct < rule.registered_min_pct
                or coverage.recognised_pct < rule.recognised_min_pct):
            got = (f"{coverage.registered}/{coverage.managed} đăng ký, {coverage.recognised}/{coverage.managed} "
                   f"công nhận") if coverage else "chưa có số liệu"
            raise CommuneCoverageNotMetError(
                f"Xã cần {rule.registered_min_pct:g}% đơn vị đăng ký và từ {rule.recognised_min_pct:g}% được công "
                f"nhận ({got})", f"a commune needs {rule.registered_min_pct:g}% of its units registered and "
                f"{rule.recognised_min_pct:g}% recognised ({coverage or 'no figures'})", field="coverage")

    @event("Decided")
    def _decided(self, outcome: Outcome, decision: Decision, rule_set_id: str,
                 evaluations: tuple[CriterionEvaluation, ...], coverage: CoverageFigures | None,
                 assessment_digest: str, late: bool, actor: Actor, effective_date: date) -> None:
        self.outcome, self.decision, self.evaluations, self.coverage = outcome, decision, evaluations, coverage
        self.decided_on_digest, self.late_decision = assessment_digest, late
        self.state = CaseState.CONG_NHAN if outcome is Outcome.DAT else CaseState.KHONG_CONG_NHAN
        self.last_effective_date = effective_date

    def revoke(self, decision: Decision, reason: str, rules: RuleSet, actor: Actor, effective_date: date) -> None:
        """Revoke a recognition (thu hồi): the deciding authority or, by default, a superior tier."""
        self._require("revoke", CaseState.CONG_NHAN)
        reason = clean_text(reason, "reason", "Lý do thu hồi")
        assert self.decision is not None
        decider, by = self.decision.authority, decision.authority
        same = by.tier is decider.tier and by.area_code == decider.area_code
        if not (same or (rules.revocation_by_superior and by.tier.rank > decider.tier.rank)):
            raise WrongAuthorityError(f"{by.name} không có thẩm quyền thu hồi quyết định của {decider.name}",
                                      f"{by.name} may not revoke a decision of {decider.name}",
                                      field="decision.authority")
        check_area(by, self.unit)
        self._revoked(decision=decision, reason=reason, actor=actor, effective_date=effective_date)

    @event("Revoked")
    def _revoked(self, decision: Decision, reason: str, actor: Actor, effective_date: date) -> None:
        self.revocation, self.revocation_reason = decision, reason
        self.state = CaseState.THU_HOI
        self.last_effective_date = effective_date

    def close(self, reason: ClosureReason, note: str, actor: Actor, effective_date: date) -> None:
        """Close a case before its decision (unit merged, dissolved or out of scope)."""
        self._require("close", *PRE_DECISION)
        self._closed(reason=reason, note=clean_text(note, "note", "Ghi chú", required=False), actor=actor,
                     effective_date=effective_date)

    @event("Closed")
    def _closed(self, reason: ClosureReason, note: str, actor: Actor, effective_date: date) -> None:
        self.closure_reason = reason
        self.state = CaseState.DA_DONG
        self.last_effective_date = effective_date

    # -- queries ----------------------------------------------------------------------------------
    def explain(self, rules: RuleSet | None = None, coverage: CoverageFigures | None = None) -> Explanation:
        """Decided cases explain from what was stored; open ones are evaluated now under their rule set."""
        if self.decision is not None:
            evaluations, coverage = self.evaluations, self.coverage
        else:
            if rules is None:
                raise InvalidFieldError("Cần bộ quy tắc để giải thích hồ sơ chưa quyết định",
                                        "an undecided case needs its rule set to be explained", field="rule_set_id")
            self._check_rules(rules)
            evaluations = evaluate(rules, self.unit, self.results, self.findings, coverage)
        return Explanation(case_id=self.id, unit_id=self.unit_id, year=self.year, rule_set_id=self.rule_set_id,
                           state=self.state, evaluations=evaluations, coverage=coverage, outcome=self.outcome,
                           decision=self.decision, late_decision=self.late_decision)


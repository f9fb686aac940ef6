"""Builders for the assessment unit tests: units, evidence, passing results, decisions."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from antt.actor import Actor
from services.assessment.application import Assessments
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.evaluation import UnitFacts, declarable
from services.assessment.domain.units import UnitProfile
from services.assessment.domain.values import Authority, CriterionResult, Decision, EvidenceRef
from services.assessment.rules import CriterionKind, RuleSet, Tier, UnitType

PROVINCE = "01"
COMMUNE = "00004"
YEAR = 2026


def sha(text: str) -> str:
    """A real SHA-256 digest of some text (stands for a stored document)."""
    return hashlib.sha256(text.encode()).hexdigest()


def evidence(kind: str, name: str = "doc") -> EvidenceRef:
    """An evidence reference with a valid digest."""
    return EvidenceRef(kind=kind, uri=f"s3://dossiers/{name}.pdf", sha256=sha(name), title=name)


def profile(code: str, unit_type: UnitType, managed_by: Tier = Tier.XA, commune: str = COMMUNE,
            eligible: bool = True, delegated_to: Tier | None = None) -> UnitProfile:
    """A unit profile with an id derived from its code."""
    return UnitProfile(unit_id=uuid.uuid5(uuid.NAMESPACE_URL, code), code=code, name=f"Đơn vị {code}",
                       unit_type=unit_type, province_code=PROVINCE, commune_code=commune, managed_by=managed_by,
                       delegated_to=delegated_to, eligible=eligible,
                       ineligible_reason="" if eligible else "doanh nghiệp nhỏ")


def passing_results(rules: RuleSet, p: UnitProfile) -> list[CriterionResult]:
    """A self-assessment that meets every declarable criterion of the unit's type."""
    unit = UnitFacts(p.unit_type, p.province_code, p.commune_code, p.managed_by)
    by_id = {c.id: c for c in rules.criteria_for(p.unit_type, p.province_code)}
    out = []
    for cid in declarable(rules, unit):
        c = by_id[cid]
        if c.kind is CriterionKind.BOOLEAN:
            out.append(CriterionResult(cid, met=True, evidence=(evidence("REC-MINUTES", cid),)))
        else:
            assert c.threshold is not None
            if c.threshold.needs_previous_year:
                out.append(CriterionResult(cid, value=3, previous_value=5))
            else:
                out.append(CriterionResult(cid, value=float(c.threshold.value)))
    return out


def xa_authority(commune: str = COMMUNE) -> Authority:
    """The commune People's Committee."""
    return Authority(Tier.XA, "UBND xã Phúc Xá", commune)


def tinh_authority(province: str = PROVINCE) -> Authority:
    """The provincial People's Committee."""
    return Authority(Tier.TINH, "UBND thành phố Hà Nội", province)


def decision(authority: Authority, number: str = "123/QĐ-UBND", on: date = date(YEAR, 11, 10)) -> Decision:
    """A decision document."""
    return Decision(number=number, date=on, signer="Nguyễn Văn A", signer_title="Chủ tịch", authority=authority)


REGISTERED_ON = date(YEAR, 1, 15)


def appraised_case(rules: RuleSet, p: UnitProfile, actor: Actor) -> AssessmentCase:
    """A case registered, self-assessed (all criteria met), submitted and appraised, not saved."""
    case = AssessmentCase.register(p, YEAR, rules, [evidence("REG-FORM")], actor, REGISTERED_ON)
    case.record_self_assessment(passing_results(rules, p), rules, actor, date(YEAR, 10, 1))
    case.submit(rules, [evidence("REC-REQUEST")], actor, date(YEAR, 10, 5))
    case.appraise([], rules, actor, date(YEAR, 10, 20))
    return case


def appraised_in_app(app: Assessments, p: UnitProfile, actor: Actor) -> AssessmentCase:
    """The same path through the application (each step saved)."""
    case = app.register_case(p.unit_id, YEAR, [evidence("REG-FORM")], actor, REGISTERED_ON)
    rules = app.rules.get(case.rule_set_id)
    app.record_self_assessment(case.id, passing_results(rules, p), actor, date(YEAR, 10, 1))
    app.submit(case.id, [evidence("REC-REQUEST")], actor, date(YEAR, 10, 5))
    return app.appraise(case.id, [], actor, date(YEAR, 10, 20))

"""Request builders for the assessment gRPC tests (integration and e2e): actors, evidence, results, decisions."""

from __future__ import annotations

import hashlib
from datetime import date

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.common.v1 import actor_pb2 as common_pb
from antt.events.v1 import assessment_pb2 as events_pb
from services.assessment.domain.evaluation import UnitFacts, declarable
from services.assessment.rules import CriterionKind, RuleSet, Tier, UnitType

PROVINCE = "01"
COMMUNE = "00004"   # Phường Ba Đình, Hà Nội (official code)

OPERATOR = common_pb.Actor(id="u:can-bo-xa-00004", role="commune_operator", tier="commune", jurisdiction=COMMUNE)
PROVINCE_OFFICER = common_pb.Actor(id="u:can-bo-tinh-01", role="province_operator", tier="province",
                                   jurisdiction=PROVINCE)


def evidence(kind: str, name: str) -> events_pb.AssessmentEvidence:
    """Evidence pinned by the SHA-256 of a stand-in document."""
    return events_pb.AssessmentEvidence(kind=kind, uri=f"s3://ho-so/{name}.pdf",
                                        sha256=hashlib.sha256(name.encode()).hexdigest(), title=name)


def results(rules: RuleSet, unit_type: UnitType, failing: frozenset[str] = frozenset()
            ) -> list[events_pb.AssessmentCriterionResult]:
    """A self-assessment meeting every declarable criterion of the type, except those named in `failing`."""
    unit = UnitFacts(unit_type, PROVINCE, COMMUNE, Tier.XA)
    by_id = {c.id: c for c in rules.criteria_for(unit_type, PROVINCE)}
    out = []
    for cid in declarable(rules, unit):
        c = by_id[cid]
        if c.kind is CriterionKind.BOOLEAN:
            out.append(events_pb.AssessmentCriterionResult(criterion_id=cid, met=cid not in failing,
                                                           evidence=[evidence("REC-MINUTES", cid)]))
            continue
        assert c.threshold is not None
        if c.threshold.needs_previous_year:
            value, previous = (7.0, 5.0) if cid in failing else (3.0, 5.0)
            out.append(events_pb.AssessmentCriterionResult(criterion_id=cid, value=value, previous_value=previous))
        else:
            limit = float(c.threshold.value)
            value = limit
            if cid in failing:
                value = limit + 1 if c.threshold.op in ("<=", "<", "==") else limit - 1
            out.append(events_pb.AssessmentCriterionResult(criterion_id=cid, value=value))
    return out


def authority(tier: str) -> pb.Authority:
    """The commune or the provincial People's Committee."""
    if tier == "xa":
        return pb.Authority(tier="xa", name="UBND phường Ba Đình", area_code=COMMUNE)
    return pb.Authority(tier="tinh", name="UBND thành phố Hà Nội", area_code=PROVINCE)


def decision(number: str, on: date, tier: str = "xa") -> pb.Decision:
    """A decision document of the commune (default) or the province."""
    return pb.Decision(number=number, date=on.isoformat(), signer="Nguyễn Văn An", signer_title="Chủ tịch",
                       authority=authority(tier))


def items(**points: float) -> list[events_pb.AssessmentScoringItem]:
    """Scoring items from keyword arguments: items(i1=3, i4=80) -> items "1" and "4"."""
    return [events_pb.AssessmentScoringItem(item=k.removeprefix("i"), points=v) for k, v in points.items()]

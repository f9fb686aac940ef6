"""Protobuf <-> domain values for the assessment API (requests in, aggregates out)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from antt.eventstore.hashchain import SHARED, share
from antt.grpcx.converters import parse_date, parse_uuid  # noqa: F401 (re-exported to servicers)
from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.errors import InvalidArgumentError, parse_enum
from antt.events.v1 import assessment_pb2 as events_pb
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.classification import Classification
from services.assessment.domain.exemplary import ExemplaryDesignation
from services.assessment.domain.states import CaseState, Explanation
from services.assessment.domain.values import Authority, CriterionResult, Decision, EvidenceRef, Finding
from services.assessment.published import (
    coverage_pb, evaluation_pb, evidence_pb, finding_pb, items_pb, result_pb,
)
from services.assessment.rules.types import Tier



def parse_time(value: str, field: str) -> datetime:
    """An RFC 3339 time with a time zone."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidArgumentError(f"Thời điểm không hợp lệ: {value!r} (RFC 3339, có múi giờ)",
                                   f"invalid time {value!r} (RFC 3339 with a time zone)", field=field)
    return parsed



def parse_year(value: int, field: str = "year") -> int:
    """An evaluation year (2000–2100)."""
    if not 2000 <= value <= 2100:
        raise InvalidArgumentError(f"Năm đánh giá không hợp lệ: {value}", f"invalid year {value}", field=field)
    return value


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def evidence_from_pb(refs: Iterable[events_pb.AssessmentEvidence]) -> tuple[EvidenceRef, ...]:
    """Evidence references (each digest is checked by the value object)."""
    return tuple(EvidenceRef(kind=r.kind, uri=r.uri, sha256=r.sha256, title=r.title) for r in refs)


SHARED_VALUES_MAX = 20_000  # distinct results and findings kept (criteria × the values units usually give)
RESULT, FINDING = 1, 2  # which kind of value a key's request bytes make
_shared_values: dict[tuple[int, bytes], Any] = {}


def _shared(key: tuple[int, bytes], make: Callable[[], Any]) -> Any:
    """An equal value made before from the same request bytes, else a new one; shared from its second use.

    Results and findings repeat across thousands of cases (the same criterion met the same way, often
    with the same evidence); the hash chain, the transcoder, the evaluation and the replies remember a
    shared value's forms on it, so it is written once instead of once per case. A value is marked shared
    only when a second request brings it: one seen once (a unit's own evidence) keeps no forms, as before,
    so the case cache does not hold its texts too. Values are immutable: sharing one changes no stored
    byte (tested against fresh values).
    """
    found = _shared_values.get(key)
    if found is None:
        found = make()
        if len(_shared_values) >= SHARED_VALUES_MAX:
            _shared_values.clear()
        _shared_values[key] = found
    elif SHARED not in found.__dict__:
        for ref in getattr(found, "evidence", ()):
            share(ref)  # its text is part of the result's: remembered only when every part is
        share(found)
    return found


def result_from_pb(r: events_pb.AssessmentCriterionResult) -> CriterionResult:
    """One self-assessed result (a shared equal one when the same fields were seen before)."""
    # Equal deterministic bytes are equal fields, presence and float bits included (0.0 and -0.0 differ).
    return _shared((RESULT, r.SerializeToString(deterministic=True)), lambda: CriterionResult(
        criterion_id=r.criterion_id, met=_opt(r, "met"), value=_opt(r, "value"),
        previous_value=_opt(r, "previous_value"), not_applicable=r.not_applicable,
        evidence=evidence_from_pb(r.evidence), note=r.note))


def finding_from_pb(f: events_pb.AssessmentFinding) -> Finding:
    """One appraisal finding (a shared equal one when the same fields were seen before)."""
    return _shared((FINDING, f.SerializeToString(deterministic=True)), lambda: Finding(
        criterion_id=f.criterion_id, met=_opt(f, "met"), value=_opt(f, "value"),
        previous_value=_opt(f, "previous_value"), not_applicable=f.not_applicable, note=f.note))


def results_from_pb(results: Iterable[events_pb.AssessmentCriterionResult]) -> list[CriterionResult]:
    """Self-assessed results."""
    return [result_from_pb(r) for r in results]


def findings_from_pb(findings: Iterable[events_pb.AssessmentFinding]) -> list[Finding]:
    """Appraisal findings."""
    return [finding_from_pb(f) for f in findings]


def items_from_pb(items: Iterable[events_pb.AssessmentScoringItem]) -> dict[str, float]:
    """Scoring items; an item named twice is INVALID_ARGUMENT."""
    out: dict[str, float] = {}
    for i in items:
        if not i.item or i.item in out:
            raise InvalidArgumentError(f"Mục chấm điểm trống hoặc lặp: {i.item!r}",
                                       f"empty or repeated scoring item {i.item!r}", field="items")
        out[i.item] = i.points
    return out


def decision_from_pb(message: pb.Decision, field: str = "decision") -> Decision:
    """A decision document; its number, signer and authority are checked by the value object."""
    if not message.date:
        raise InvalidArgumentError("Thiếu ngày quyết định", f"{field}.date is required", field=f"{field}.date")
    on = parse_date(message.date, f"{field}.date")
    assert on is not None
    tier = parse_enum(Tier, message.authority.tier, f"{field}.authority.tier", "Cấp ban hành")
    return Decision(number=message.number, date=on, signer=message.signer, signer_title=message.signer_title,
                    authority=Authority(tier=tier, name=message.authority.name, area_code=message.authority.area_code))


def decision_to_pb(d: Decision | None) -> pb.Decision | None:
    """API form of a decision (None stays None)."""
    if d is None:
        return None
    a = d.authority
    return pb.Decision(number=d.number, date=d.date.isoformat(), signer=d.signer, signer_title=d.signer_title,
                       authority=pb.Authority(tier=a.tier.value, name=a.name, area_code=a.area_code))


def parse_state(value: str) -> CaseState | None:
    """A case state filter ("" for every state)."""
    return parse_enum(CaseState, value, "state", "Trạng thái hồ sơ") if value else None


REPLY_MEMO = "_antt_reply_pb"  # not state: the API message of a shared value, copied into every reply


def _message(value: Any, build: Callable[[Any], Any]) -> Any:
    """`build(value)`, remembered on a shared value (never handed out: replies copy it in)."""
    state = value.__dict__
    found = state.get(REPLY_MEMO)
    if found is None:
        found = build(value)
        if SHARED in state:
            state[REPLY_MEMO] = found  # frozen value: its message never changes (bypasses __setattr__)
    return found


ENTRY_MEMO = "_antt_reply_entry_"  # + field name; not state: a shared value's entry in a Case's bytes


def _entry(value: Any, field: str, build: Callable[[Any], Any]) -> bytes:
    """The bytes of `pb.Case(<field>=[build(value)])`, remembered on a shared value (frozen: they never change)."""
    state = value.__dict__
    memo = ENTRY_MEMO + field
    found = state.get(memo)
    if found is None:
        found = pb.Case(**{field: [_message(value, build)]}).SerializeToString()
        state[memo] = found  # only shared values come here (see _add_entries)
    return found  # type: ignore[no-any-return]


def _add_entries(message: pb.Case, field: str, values: Iterable[Any], build: Callable[[Any], Any]) -> None:
    """Append each value's API message to a repeated field of `message`, in order.

    When every value is shared (results and findings repeated across thousands of cases), their
    entries are parsed from remembered bytes in one call instead of copied in one by one: parsing
    appends to a repeated field, and a message serialises by field number whatever the order its
    fields were set in, so the reply is the same message with the same bytes.
    """
    items = list(values)
    if not items:
        return
    if all(SHARED in v.__dict__ for v in items):
        message.MergeFromString(b"".join([_entry(v, field, build) for v in items]))
    else:
        getattr(message, field).extend([_message(v, build) for v in items])


def case_to_pb(case: AssessmentCase) -> pb.Case:
    """API form of a case."""
    message = pb.Case(**_case_scalars(case))
    _add_entries(message, "results", case.results.values(), result_pb)
    _add_entries(message, "findings", case.findings.values(), finding_pb)
    return message


def case_fields(case: AssessmentCase) -> dict[str, Any]:
    """The fields of a case's API form (`repeated.add(**case_fields(c))` builds it in place, without a copy)."""
    return dict(_case_scalars(case), results=[_message(r, result_pb) for r in case.results.values()],
                findings=[_message(f, finding_pb) for f in case.findings.values()])


def _case_scalars(case: AssessmentCase) -> dict[str, Any]:
    """The fields of a case's API form but its results and findings."""
    u = case.unit
    return dict(
        case_id=str(case.id), unit_id=str(case.unit_id), unit_code=case.unit_code, unit_type=u.unit_type.value,
        year=case.year, province_code=u.province_code, commune_code=u.commune_code, state=case.state.value,
        state_label_vi=case.state.label_vi, rule_set_id=case.rule_set_id, version=case.version,
        managed_by=u.managed_by.value, registered_late=case.registered_late,
        registration_dossier=evidence_pb(case.registration_dossier),
        documents=evidence_pb(case.documents), return_reason=case.return_reason,
        outcome=case.outcome.value if case.outcome else "", decision=decision_to_pb(case.decision),
        late_decision=case.late_decision, decided_on_digest=case.decided_on_digest,
        assessment_digest=case.assessment_digest(), revocation=decision_to_pb(case.revocation),
        revocation_reason=case.revocation_reason,
        closure_reason=case.closure_reason.value if case.closure_reason else "",
        last_recorded_at=case.modified_on.isoformat(), last_effective_date=case.last_effective_date.isoformat())


def classification_to_pb(c: Classification, level_label_vi: str = "") -> pb.Classification:
    """API form of a classification."""
    u = c.unit
    return pb.Classification(
        classification_id=str(c.id), unit_id=str(c.unit_id), unit_code=c.unit_code, unit_type=u.unit_type.value,
        year=c.year, province_code=u.province_code, commune_code=u.commune_code, state=c.state.value,
        rule_set_id=c.rule_set_id, version=c.version, points=c.total, proposed_level=c.proposed_level,
        level=c.level, level_label_vi=level_label_vi, award_eligible=c.award_eligible,
        decision=decision_to_pb(c.decision), late=c.late, reclassifications=c.reclassifications,
        items=items_pb(c.items))


def designation_to_pb(d: ExemplaryDesignation) -> pb.ExemplaryDesignation:
    """API form of an exemplary designation."""
    message = pb.ExemplaryDesignation(
        designation_id=str(d.id), unit_id=str(d.unit_id), year=d.year, criteria_set_id=d.criteria_set_id,
        criteria_met=d.criteria_met, rule_set_id=d.rule_set_id, active=d.active, decision=decision_to_pb(d.decision),
        withdrawal=decision_to_pb(d.withdrawal), withdrawal_reason=d.withdrawal_reason, version=d.version)
    if d.criteria_count is not None:
        message.criteria_count = d.criteria_count
    return message


def explanation_to_pb(e: Explanation) -> pb.Explanation:
    """API form of an explanation: each criterion, value, threshold, met, and the rule-set id."""
    return pb.Explanation(
        case_id=str(e.case_id), unit_id=str(e.unit_id), year=e.year, rule_set_id=e.rule_set_id,
        state=e.state.value, criteria=[evaluation_pb(x) for x in e.evaluations], coverage=coverage_pb(e.coverage),
        outcome=e.outcome.value if e.outcome else "", decision=decision_to_pb(e.decision),
        late_decision=e.late_decision)

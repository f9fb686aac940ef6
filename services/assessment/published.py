"""Assessment's published language: stored domain events -> antt.events.v1 assessment payloads.

Every payload names its unit (id, code, type), the year and the unit's place when the case (or
classification, designation) was opened; events that do not carry them read the aggregate as it
stood at that event's version. The place also names the subject, so subscribers filter by area.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.utils import get_topic

from antt.contracts.meta import event_meta
from antt.events.v1 import assessment_pb2 as pb
from antt.relay import state
from antt.relay.outbox import Published
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.classification import Classification
from services.assessment.domain.exemplary import ExemplaryDesignation
from services.assessment.domain.states import Outcome
from services.assessment.domain.values import (
    CoverageFigures, CriterionEvaluation, CriterionResult, Decision, EvidenceRef, Finding,
)


def evidence_pb(refs: Iterable[EvidenceRef]) -> list[pb.AssessmentEvidence]:
    """Evidence references in their published form."""
    return [pb.AssessmentEvidence(kind=r.kind, uri=r.uri, sha256=r.sha256, title=r.title) for r in refs]


def _optional(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def result_pb(r: CriterionResult) -> pb.AssessmentCriterionResult:
    """A self-assessed result in its published form."""
    return pb.AssessmentCriterionResult(
        criterion_id=r.criterion_id, not_applicable=r.not_applicable, evidence=evidence_pb(r.evidence), note=r.note,
        **_optional(met=r.met, value=r.value, previous_value=r.previous_value))


def finding_pb(f: Finding) -> pb.AssessmentFinding:
    """An appraisal finding in its published form."""
    return pb.AssessmentFinding(criterion_id=f.criterion_id, not_applicable=f.not_applicable, note=f.note,
                                **_optional(met=f.met, value=f.value, previous_value=f.previous_value))


def evaluation_pb(e: CriterionEvaluation) -> pb.AssessmentCriterionEvaluation:
    """One line of an explanation in its published form."""
    return pb.AssessmentCriterionEvaluation(
        criterion_id=e.criterion_id, label_vi=e.label_vi, label_en=e.label_en, kind=e.kind.value, met=e.met,
        basis=e.basis.value, threshold=e.threshold, not_applicable=e.not_applicable, exception=e.exception,
        **_optional(value=e.value, previous_value=e.previous_value))


def items_pb(items: Mapping[str, float]) -> list[pb.AssessmentScoringItem]:
    """Scoring items, sorted by item id."""
    return [pb.AssessmentScoringItem(item=k, points=float(v)) for k, v in sorted(items.items())]


def decision_fields(d: Decision) -> dict[str, Any]:
    """The flat decision fields shared by every decision event."""
    return dict(decision_number=d.number, decision_date=d.date.isoformat(), signer=d.signer,
                signer_title=d.signer_title, issuing_authority=d.authority.name,
                authority_tier=d.authority.tier.value, authority_area_code=d.authority.area_code)


def coverage_pb(c: CoverageFigures | None) -> pb.AssessmentCoverage | None:
    """Coverage figures (the 70% rule) in their published form."""
    return None if c is None else pb.AssessmentCoverage(managed=c.managed, registered=c.registered,
                                                        recognised=c.recognised)


CASE_FACTS_SIZE = 50_000  # cases whose fixed facts the publisher remembers (a few hundred bytes each)


@dataclass(frozen=True)
class _CaseFacts:
    """A case's facts fixed at registration: what every one of its published events carries."""

    unit_id: Any
    unit_code: str
    unit: Any
    year: int
    rule_set_id: str


class _Head(NamedTuple):
    """What every message of a case (or classification) carries besides its own fields, fixed when it was
    opened: the payload's unit fields, its area and the aggregate's rule set (the state path's cache)."""

    unit_id: str
    unit_code: str
    unit_type: str
    year: int
    province_code: str
    commune_code: str
    rule_set_id: str

    def fields(self) -> dict[str, Any]:
        """The payload fields every message of the aggregate shares (meta aside)."""
        return {"unit_id": self.unit_id, "unit_code": self.unit_code, "unit_type": self.unit_type,
                "year": self.year, "province_code": self.province_code, "commune_code": self.commune_code}


CASE_REGISTERED, SELF_ASSESSED, SUBMITTED, APPRAISED, RETURNED, CASE_DECIDED, REVOKED, CASE_CLOSED = (
    get_topic(c) for c in (AssessmentCase.Registered, AssessmentCase.SelfAssessmentRecorded,
                           AssessmentCase.Submitted, AssessmentCase.Appraised, AssessmentCase.ReturnedForCompletion,
                           AssessmentCase.Decided, AssessmentCase.Revoked, AssessmentCase.Closed))
PROPOSED, CLASSIFIED, RECLASSIFIED = (get_topic(c) for c in (
    Classification.Proposed, Classification.Decided, Classification.Reclassified))
OPENING = frozenset({CASE_REGISTERED, PROPOSED})  # the events whose state names the unit, year and rule set


def _head(s: Mapping[str, Any]) -> _Head | None:
    """The head an opening event's stored state gives (None for a classification stored without its unit code,
    whose code the decoding path looks up in the unit directory)."""
    if not s.get("unit_code"):
        return None
    unit_type = s["unit_type"]
    return _Head(str(UUID(s["unit_id"]["_data_"])), s["unit_code"], unit_type["_data_"] if unit_type else "",
                 s["year"], s["province_code"], s["commune_code"], s["rule_set_id"])


def _evidence(refs: list[Any]) -> list[dict[str, Any]]:
    """Stored evidence references as the fields of AssessmentEvidence (the same names)."""
    return [r["_data_"] for r in refs]


def _present(d: Mapping[str, Any]) -> dict[str, Any]:
    """A stored result or finding's fields without the nulls (the optional fields are then unset)."""
    return {k: v for k, v in d.items() if v is not None}


def _result(r: Any) -> dict[str, Any]:
    d = _present(r["_data_"])
    d["evidence"] = _evidence(d["evidence"])
    return d


def _evaluation(e: Any) -> dict[str, Any]:
    d = _present(e["_data_"])
    d["kind"], d["basis"] = d["kind"]["_data_"], d["basis"]["_data_"]
    return d


def _decision(s: Mapping[str, Any]) -> dict[str, Any]:
    """decision_fields of a stored decision."""
    d = s["decision"]["_data_"]
    authority = d["authority"]["_data_"]
    return dict(decision_number=d["number"], decision_date=d["date"]["_data_"], signer=d["signer"],
                signer_title=d["signer_title"], issuing_authority=authority["name"],
                authority_tier=authority["tier"]["_data_"], authority_area_code=authority["area_code"])


def _items(items: Mapping[str, Any]) -> list[pb.AssessmentScoringItem]:
    return [pb.AssessmentScoringItem(item=k, points=float(v)) for k, v in sorted(items.items())]


# topic -> payload from (head, its fields with the meta, stored state); each the same as its branch in
# AssessmentPublisher._case or _classification.
_FROM_STATE: dict[str, Callable[[_Head, dict[str, Any], Mapping[str, Any]], Any]] = {
    CASE_REGISTERED: lambda h, f, s: pb.CaseRegistered(
        **f, rule_set_id=s["rule_set_id"], managed_by=s["managed_by"]["_data_"],
        delegated_to=state.unwrap(s["delegated_to"]) or "", late=s["late"], dossier=_evidence(s["dossier"])),
    SELF_ASSESSED: lambda h, f, s: pb.SelfAssessmentRecorded(
        **f, results=[_result(r) for r in s["results"]], documents=_evidence(s["documents"])),
    SUBMITTED: lambda h, f, s: pb.CaseSubmitted(**f, dossier=_evidence(s["dossier"])),
    APPRAISED: lambda h, f, s: pb.CaseAppraised(**f, findings=[_present(x["_data_"]) for x in s["findings"]]),
    RETURNED: lambda h, f, s: pb.CaseReturnedForCompletion(
        **f, findings=[_present(x["_data_"]) for x in s["findings"]], reason=s["reason"]),
    CASE_DECIDED: lambda h, f, s: pb.CaseDecided(
        **f, recognised=s["outcome"]["_data_"] == Outcome.DAT.value, **_decision(s), rule_set_id=s["rule_set_id"],
        late=s["late"], assessment_digest=s["assessment_digest"],
        evaluations=[_evaluation(e) for e in s["evaluations"]], coverage=state.unwrap(s["coverage"])),
    REVOKED: lambda h, f, s: pb.RecognitionRevoked(**f, reason=s["reason"], **_decision(s),
                                                   rule_set_id=h.rule_set_id),
    CASE_CLOSED: lambda h, f, s: pb.CaseClosed(**f, reason=s["reason"]["_data_"], note=s["note"]),
    PROPOSED: lambda h, f, s: pb.ClassificationProposed(
        **f, rule_set_id=s["rule_set_id"], points=s["total"], proposed_level=s["proposed_level"],
        items=_items(s["items"])),
    CLASSIFIED: lambda h, f, s: pb.ClassificationDecided(
        **f, level=s["level"], points=s["total"], award_eligible=s["award_eligible"], recognised=s["recognised"],
        **_decision(s), rule_set_id=h.rule_set_id, late=s["late"], items=_items(s["items"])),
    RECLASSIFIED: lambda h, f, s: pb.Reclassified(
        **f, level=s["level"], previous_level=s["previous_level"], points=s["total"],
        previous_points=s["previous_total"], award_eligible=s["award_eligible"], reason=s["reason"],
        **_decision(s), rule_set_id=h.rule_set_id, items=_items(s["items"])),
}


class AssessmentPublisher:
    """Maps stored assessment events to published messages; reads aggregates from `app` when needed."""

    # Case and classification events are mapped from their stored state (antt.relay.state); designations
    # (a few per province) always go through to_message.
    state_topics = frozenset(_FROM_STATE)

    def __init__(self, app: Any) -> None:
        self.app = app
        # What a case's events publish besides their own fields never changes after its registration
        # (unit, place, year, rule set), so it is read from the store once per case, not once per event.
        self._case_facts: OrderedDict[Any, _CaseFacts] = OrderedDict()
        self._lock = threading.Lock()
        self._heads: OrderedDict[UUID, _Head] = OrderedDict()  # the state path's, oldest first

    def to_message_from_state(self, stored: state.StoredState) -> Published | None:
        """The published form of a case or classification event from its stored state; None to decode it.

        The same message to_message makes from the decoded event. The unit, place, year and rule set come
        from the aggregate's opening event: its state when the relay just mapped it, else read from the store.
        """
        head = self._state_head(stored)
        if head is None:
            return None
        fields = head.fields()
        fields["meta"] = state.event_meta(stored)
        payload = _FROM_STATE[stored.topic](head, fields, stored.state)
        return Published(payload, head.province_code, head.commune_code)

    def _state_head(self, stored: state.StoredState) -> _Head | None:
        uid = stored.originator_id
        if stored.topic in OPENING:
            head = _head(stored.state)
        else:
            head = self._heads.get(uid)
            if head is not None:
                return head
            opening = self.app.recorder.select_events(uid, lte=1, limit=1)  # one row, not the whole aggregate
            if not opening or opening[0].topic not in OPENING:
                return None
            head = _head(state.read_state(opening[0].state))
        if head is not None:
            self._heads[uid] = head
            if len(self._heads) > CASE_FACTS_SIZE:
                self._heads.popitem(last=False)
        return head

    def _at(self, event: Any) -> Any:
        return self.app.repository.get(event.originator_id, version=event.originator_version)

    def _facts(self, event: Any) -> _CaseFacts:
        found = self._case_facts.get(event.originator_id)
        if found is None:
            case = self._at(event)
            found = _CaseFacts(case.unit_id, case.unit_code, case.unit, case.year, case.rule_set_id)
            with self._lock:
                self._case_facts[event.originator_id] = found
                while len(self._case_facts) > CASE_FACTS_SIZE:
                    self._case_facts.popitem(last=False)
        return found

    def to_message(self, event: Any) -> Published | None:
        """The published form of a stored assessment event (None for events not published)."""
        if isinstance(event, AssessmentCase.Event):
            return self._case(event)
        if isinstance(event, Classification.Event):
            return self._classification(event)
        if isinstance(event, ExemplaryDesignation.Event):
            return self._exemplary(event)
        return None

    @staticmethod
    def _header(event: Any, unit_id: Any, code: str, unit_type: Any, year: int, province: str,
                commune: str) -> dict[str, Any]:
        return dict(meta=event_meta(event), unit_id=str(unit_id), unit_code=code,
                    unit_type=unit_type.value if unit_type is not None else "", year=year,
                    province_code=province, commune_code=commune)

    def _case(self, event: Any) -> Published | None:
        case = self._facts(event)
        u = case.unit
        head = self._header(event, case.unit_id, case.unit_code, u.unit_type, case.year, u.province_code,
                            u.commune_code)
        payload: Any
        if isinstance(event, AssessmentCase.Registered):
            payload = pb.CaseRegistered(
                **head, rule_set_id=event.rule_set_id, managed_by=event.managed_by.value,
                delegated_to=event.delegated_to.value if event.delegated_to else "", late=event.late,
                dossier=evidence_pb(event.dossier))
        elif isinstance(event, AssessmentCase.SelfAssessmentRecorded):
            payload = pb.SelfAssessmentRecorded(**head, results=[result_pb(r) for r in event.results],
                                                documents=evidence_pb(event.documents))
        elif isinstance(event, AssessmentCase.Submitted):
            payload = pb.CaseSubmitted(**head, dossier=evidence_pb(event.dossier))
        elif isinstance(event, AssessmentCase.Appraised):
            payload = pb.CaseAppraised(**head, findings=[finding_pb(f) for f in event.findings])
        elif isinstance(event, AssessmentCase.ReturnedForCompletion):
            payload = pb.CaseReturnedForCompletion(**head, findings=[finding_pb(f) for f in event.findings],
                                                   reason=event.reason)
        elif isinstance(event, AssessmentCase.Decided):
            payload = pb.CaseDecided(
                **head, recognised=event.outcome is Outcome.DAT, **decision_fields(event.decision),
                rule_set_id=event.rule_set_id, late=event.late, assessment_digest=event.assessment_digest,
                evaluations=[evaluation_pb(e) for e in event.evaluations], coverage=coverage_pb(event.coverage))
        elif isinstance(event, AssessmentCase.Revoked):
            payload = pb.RecognitionRevoked(**head, reason=event.reason, **decision_fields(event.decision),
                                            rule_set_id=case.rule_set_id)
        elif isinstance(event, AssessmentCase.Closed):
            payload = pb.CaseClosed(**head, reason=event.reason.value, note=event.note)
        else:
            return None
        return Published(payload, u.province_code, u.commune_code)

    def _classification(self, event: Any) -> Published | None:
        c = self._at(event)
        u = c.unit
        code = c.unit_code or self._unit_code(c.unit_id)
        head = self._header(event, c.unit_id, code, u.unit_type, c.year, u.province_code, u.commune_code)
        payload: Any
        if isinstance(event, Classification.Proposed):
            payload = pb.ClassificationProposed(**head, rule_set_id=event.rule_set_id, points=event.total,
                                                proposed_level=event.proposed_level, items=items_pb(event.items))
        elif isinstance(event, Classification.Decided):
            payload = pb.ClassificationDecided(
                **head, level=event.level, points=event.total, award_eligible=event.award_eligible,
                recognised=event.recognised, **decision_fields(event.decision), rule_set_id=c.rule_set_id,
                late=event.late, items=items_pb(event.items))
        elif isinstance(event, Classification.Reclassified):
            payload = pb.Reclassified(
                **head, level=event.level, previous_level=event.previous_level, points=event.total,
                previous_points=event.previous_total, award_eligible=event.award_eligible, reason=event.reason,
                **decision_fields(event.decision), rule_set_id=c.rule_set_id, items=items_pb(event.items))
        else:
            return None
        return Published(payload, u.province_code, u.commune_code)

    def _exemplary(self, event: Any) -> Published | None:
        d = self._at(event)
        code, unit_type, province, commune = d.unit_code, d.unit_type, d.province_code, d.commune_code
        if not province:  # designations stored before the unit's place was recorded on the event
            profile = self.app.units.get(d.unit_id)
            if profile is not None:
                code, unit_type = profile.code, profile.unit_type
                province, commune = profile.province_code, profile.commune_code
        head = self._header(event, d.unit_id, code, unit_type, d.year, province, commune)
        payload: Any
        if isinstance(event, ExemplaryDesignation.Designated):
            payload = pb.ExemplaryDesignated(
                **head, criteria_set_id=event.criteria_set_id, criteria_met=event.criteria_met,
                **_optional(criteria_count=event.criteria_count), **decision_fields(event.decision),
                rule_set_id=event.rule_set_id)
        elif isinstance(event, ExemplaryDesignation.Withdrawn):
            payload = pb.ExemplaryWithdrawn(**head, criteria_set_id=d.criteria_set_id, reason=event.reason,
                                            **decision_fields(event.decision))
        else:
            return None
        return Published(payload, province, commune)

    def _unit_code(self, unit_id: Any) -> str:
        profile = self.app.units.get(unit_id)
        return profile.code if profile is not None else ""

"""Assessments application: commands and queries over AssessmentCase and Classification aggregates."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Transcoder, Transcoding

from antt.actor import Actor
from antt.errors import DomainError
from antt.eventstore.application import ServiceApplication, json_ready
from antt.eventstore.group import GroupCommit
from antt.eventstore.hashchain import SHARED
from services.assessment.case_cache import CaseCache
from services.assessment.domain.assessment_case import AssessmentCase
from services.assessment.domain.classification import Classification, ClassificationState
from services.assessment.domain.errors import (
    CaseNotFoundError, ConcurrentUpdateError, InvalidFieldError, SecondCaseError, UnitNotInReplicaError,
)
from services.assessment.domain.exemplary import ExemplaryDesignation
from services.assessment.domain.states import CaseState, ClosureReason, Explanation, Outcome
from services.assessment.domain.units import StaticUnitDirectory, UnitDirectory, UnitProfile
from services.assessment.domain.values import (
    Authority, Basis, CoverageFigures, CriterionEvaluation, CriterionResult, Decision, EvidenceRef, Finding,
)
from services.assessment.rules import RuleCatalogue, RuleSet, load_catalogue
from services.assessment.rules.model import CriterionKind
from services.assessment.rules.types import Tier, UnitType

CaseChange = Callable[[AssessmentCase], None]


@dataclass(frozen=True)
class Registration:
    """One registration a commune received (TT124 Đ9 k2a): the unit, the year, its dossier and date."""

    unit_id: UUID
    year: int
    dossier: tuple[EvidenceRef, ...]
    effective_date: date | None = None


@dataclass(frozen=True)
class Appraisal:
    """One case of an appraisal session: its findings, or the reason its dossier is returned."""

    case_id: UUID
    findings: tuple[Finding, ...] = ()
    return_reason: str = ""
    effective_date: date | None = None


class _Collected:
    """Events already collected from an aggregate, handed to the group commit as one save."""

    def __init__(self, events: Sequence[Any]) -> None:
        self.events = list(events)

    def collect_events(self) -> list[Any]:
        return self.events


VALUE_TYPES = (EvidenceRef, CriterionResult, Finding, Authority, Decision, CoverageFigures, CriterionEvaluation)


def value_transcoding(cls: type, ready: Callable[[Any], Any] | None = None) -> Transcoding:
    """Stores a frozen dataclass as a dict of its fields (lists come back as tuples).

    `ready` (the transcoder's json_ready) turns the dict remembered on a shared value into its JSON-ready
    form, nested values already transcoded: the encoder then writes it without calling back per value.
    """

    names = tuple(f.name for f in dataclasses.fields(cls))  # once: every stored value goes through encode
    # The dict of a shared frozen value is remembered on it: its fields are never reassigned, so the dict
    # of references is always what a fresh one would hold (shared criterion lines are stored by many cases;
    # other values are stored once or twice and keeping a dict on each would cost memory in the case cache).
    memo = "_antt_stored_fields" if cls.__dataclass_params__.frozen else ""  # type: ignore[attr-defined]

    class ValueAsDict(Transcoding):
        type = cls
        name = f"value_{cls.__module__}.{cls.__qualname__}"

        def encode(self, obj: Any) -> dict[str, Any]:
            state = getattr(obj, "__dict__", None) if memo else None
            if state is not None and SHARED not in state:
                state = None
            if state is not None:
                found = state.get(memo)
                if found is not None:
                    return found  # type: ignore[no-any-return]
            fields = {name: getattr(obj, name) for name in names}
            if state is not None:
                if ready is not None:
                    fields = ready(fields)  # the same bytes once encoded (json_ready), with no callbacks left
                state[memo] = fields  # not a field: bypasses the frozen __setattr__, as hashchain's text memo
            return fields

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    return ValueAsDict()


class Assessments(ServiceApplication):
    """Yearly ANTT cases and movement classifications (never rename: it names the tables)."""

    service_name = "assessment"
    enums = (UnitType, Tier, CaseState, Outcome, ClosureReason, CriterionKind, Basis, ClassificationState)

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None, *,
                 rules: RuleCatalogue | None = None, units: UnitDirectory | None = None) -> None:
        self.rules = rules or load_catalogue()
        self.units: UnitDirectory = units if units is not None else StaticUnitDirectory()
        super().__init__(database_url, env)
        # Concurrent commands share event-store transactions; a clash still fails only its own command.
        self._group = GroupCommit(self.save)
        self.cases = CaseCache()  # committed cases, so a command does not replay its case from the store

    def register_transcodings(self, transcoder: Transcoder) -> None:
        """Adds the assessment value objects to the kernel's transcodings."""
        super().register_transcodings(transcoder)
        default = getattr(getattr(transcoder, "encoder", None), "default", None)  # a JSONTranscoder's hook
        ready = None if default is None else functools.partial(json_ready, default=default)
        for cls in VALUE_TYPES:
            transcoder.register(value_transcoding(cls, ready))  # type: ignore[attr-defined]  # a JSONTranscoder

    def _save_changes(self, *aggregates: Any) -> None:
        """Save changed aggregates in one transaction; a version clash means someone else was first."""
        try:
            self._group.save(*aggregates)
        except IntegrityError:
            raise ConcurrentUpdateError() from None

    # -- cases --------------------------------------------------------------------------------------
    def _profile(self, unit_id: UUID) -> UnitProfile:
        profile = self.units.get(unit_id)
        if profile is None:
            raise UnitNotInReplicaError(str(unit_id))
        return profile

    def register_case(self, unit_id: UUID, year: int, dossier: Sequence[EvidenceRef], actor: Actor,
                      effective_date: date | None = None) -> AssessmentCase:
        """Open the (unit, year) case under the rule set governing that year; one case per unit and year."""
        profile = self._profile(unit_id)
        if self._case_exists(AssessmentCase.create_id(unit_id, year)):
            raise SecondCaseError("hồ sơ", "case", str(unit_id), year)
        case = AssessmentCase.register(profile, year, self.rules.for_year(year), dossier, actor,
                                       effective_date or date.today())
        try:
            self._group.save(case)
        except IntegrityError:
            raise SecondCaseError("hồ sơ", "case", str(unit_id), year) from None
        self._cache(case)
        return case

    def register_cases(self, registrations: Sequence[Registration], actor: Actor
                       ) -> list[AssessmentCase | DomainError]:
        """The registrations a commune received, recorded as one list: each stands or falls on its own.

        One result per registration, in order (the case, or why it was refused); the accepted ones
        are saved in one transaction, or one by one when that clashes (a case registered meanwhile).
        """
        out: list[AssessmentCase | DomainError] = []
        listed: set[UUID] = set()
        ids = [AssessmentCase.create_id(r.unit_id, r.year) for r in registrations]
        # which are stored, in one query per few hundred cases (as `_case_exists` asks, one case at a time)
        stored = self.existing_ids(i for i in ids if self.cases.peek(i) is None)
        profiles = self.units.get_many(r.unit_id for r in registrations)
        for r, case_id in zip(registrations, ids):
            try:
                profile = profiles.get(r.unit_id)
                if profile is None:
                    raise UnitNotInReplicaError(str(r.unit_id))
                if case_id in listed or case_id in stored or self.cases.peek(case_id) is not None:
                    raise SecondCaseError("hồ sơ", "case", str(r.unit_id), r.year)
                out.append(AssessmentCase.register(profile, r.year, self.rules.for_year(r.year), r.dossier, actor,
                                                   r.effective_date or date.today()))
                listed.add(case_id)
            except DomainError as refused:
                out.append(refused)
        made = [(i, c) for i, c in enumerate(out) if isinstance(c, AssessmentCase)]
        collected = [_Collected(c.collect_events()) for _, c in made]
        try:
            if collected:
                self._group.save(*collected)
        except IntegrityError:
            for (i, c), events in zip(made, collected):
                try:
                    self._group.save(events)
                except IntegrityError:
                    out[i] = SecondCaseError("hồ sơ", "case", str(c.unit_id), c.year)
        for c in out:
            if isinstance(c, AssessmentCase):
                self._cache(c)
        return out

    def record_self_assessment(self, case_id: UUID, results: Sequence[CriterionResult], actor: Actor,
                               effective_date: date | None = None,
                               documents: Sequence[EvidenceRef] = ()) -> AssessmentCase:
        """Record the unit's per-criterion results and evidence."""
        on = effective_date or date.today()
        return self._change(case_id, lambda case: case.record_self_assessment(
            results, self.rules.get(case.rule_set_id), actor, on, documents))

    def submit(self, case_id: UUID, dossier: Sequence[EvidenceRef], actor: Actor,
               effective_date: date | None = None) -> AssessmentCase:
        """Submit the recognition dossier."""
        on = effective_date or date.today()
        return self._change(case_id, lambda case: case.submit(self.rules.get(case.rule_set_id), dossier, actor, on))

    def submit_self_assessed(self, case_id: UUID, results: Sequence[CriterionResult], dossier: Sequence[EvidenceRef],
                             actor: Actor, effective_date: date | None = None, self_assessed_on: date | None = None,
                             documents: Sequence[EvidenceRef] = ()) -> AssessmentCase:
        """Record the self-assessment the dossier contains, then submit it (TT124 Đ9 k2b): one save.

        The same two events as `record_self_assessment` then `submit`, and the same refusals, but
        both are stored or neither (a dossier is never submitted without its self-assessment).
        """
        on = effective_date or date.today()
        assessed_on = self_assessed_on or on

        def change(case: AssessmentCase) -> None:
            rules = self.rules.get(case.rule_set_id)
            case.record_self_assessment(results, rules, actor, assessed_on, documents)
            case.submit(rules, dossier, actor, on)
        return self._change(case_id, change)

    def appraise(self, case_id: UUID, findings: Sequence[Finding], actor: Actor, effective_date: date | None = None,
                 return_reason: str = "") -> AssessmentCase:
        """Record the appraisal, or return the dossier for completion when a reason is given."""
        return self._change(case_id, self._appraisal(findings, actor, effective_date, return_reason))

    def _appraisal(self, findings: Sequence[Finding], actor: Actor, effective_date: date | None,
                   return_reason: str) -> CaseChange:
        on = effective_date or date.today()
        return lambda case: case.appraise(findings, self.rules.get(case.rule_set_id), actor, on, return_reason)

    def appraise_cases(self, appraisals: Sequence[Appraisal], actor: Actor) -> list[AssessmentCase | DomainError]:
        """One appraisal session of the standing office over many cases, each with its own result.

        One result per case, in order (the appraised or returned case, or why it was refused); the
        accepted ones are saved in one transaction, or each on its own when that clashes.
        """
        changes = [(a.case_id, self._appraisal(a.findings, actor, a.effective_date, a.return_reason))
                   for a in appraisals]
        return self._change_each(changes)

    def decide_many(self, outcomes: Mapping[UUID, Outcome], decision: Decision, actor: Actor,
                    expected_digests: Mapping[UUID, str] | None = None) -> list[AssessmentCase]:
        """One decision document for many cases, atomically: any rejected case means nothing is saved."""
        if not outcomes:
            raise InvalidFieldError("Quyết định phải có ít nhất một hồ sơ", "a decision needs at least one case",
                                    field="cases")
        def decide(case: AssessmentCase) -> None:
            rules = self.rules.get(case.rule_set_id)
            case.decide(outcomes[case.id], decision, rules, actor, self._coverage_for(case, rules),
                        (expected_digests or {}).get(case.id, ""))
        return self._change_all(list(outcomes), decide)

    def revoke(self, case_id: UUID, decision: Decision, reason: str, actor: Actor,
               effective_date: date | None = None) -> AssessmentCase:
        """Revoke a recognition (thu hồi) by decision."""
        return self._change(case_id, lambda case: case.revoke(
            decision, reason, self.rules.get(case.rule_set_id), actor, effective_date or decision.date))

    def close_case(self, case_id: UUID, reason: ClosureReason, note: str, actor: Actor,
                   effective_date: date | None = None) -> AssessmentCase:
        """Close a case before its decision (merger, dissolution, out of scope)."""
        on = effective_date or date.today()
        return self._change(case_id, lambda case: case.close(reason, note, actor, on))

    # -- applying changes to cases (through the case cache) ------------------------------------------
    def _cache(self, case: AssessmentCase) -> None:
        """Remember a committed case, with its assessment digest: its reply needs the digest now, and a
        decision on the cached copy needs it again (computed once here, the copy keeps it)."""
        case.assessment_digest()
        self.cases.put(case)

    def _change(self, case_id: UUID, change: CaseChange) -> AssessmentCase:
        """Apply a command to one case and save it (a clash is ConcurrentUpdateError)."""
        return self._change_all([case_id], change)[0]

    def _change_all(self, case_ids: Sequence[UUID], change: CaseChange) -> list[AssessmentCase]:
        """Apply a command to every case and save them all in one transaction, or none.

        The cases come from the cache when it holds them. When the command fails on a cached copy, or
        its save clashes, it runs again on the stored cases, so a cache that is behind the store (another
        writer was first) never changes an outcome: it only costs the second run.
        """
        for cached in (True, False):
            cases, from_cache = [], False
            for case_id in case_ids:
                case = self.cases.get(case_id) if cached else None
                from_cache = from_cache or case is not None
                cases.append(case if case is not None else self.get_case(case_id))
            try:
                for case in cases:
                    change(case)
                self._group.save(*cases)
            except DomainError:
                if from_cache:
                    continue
                raise
            except IntegrityError:
                for case_id in case_ids:
                    self.cases.evict(case_id)
                if from_cache:
                    continue
                raise ConcurrentUpdateError() from None
            for case in cases:
                self._cache(case)
            return cases
        raise AssertionError("unreachable: the second pass reads the store")  # pragma: no cover

    def _change_each(self, changes: Sequence[tuple[UUID, CaseChange]]) -> list[AssessmentCase | DomainError]:
        """Apply one command per case, each standing on its own; the accepted ones share one transaction."""
        out: list[AssessmentCase | DomainError] = []
        for case_id, change in changes:
            case = self.cases.get(case_id)
            try:
                if case is not None:
                    try:
                        change(case)
                    except DomainError:  # decide on the stored case, as the single command would
                        case = None
                if case is None:
                    case = self.get_case(case_id)
                    change(case)
                out.append(case)
            except DomainError as refused:
                out.append(refused)
        made = [(i, c) for i, c in enumerate(out) if isinstance(c, AssessmentCase)]
        try:
            if made:
                self._group.save(*[c for _, c in made])
        except IntegrityError:  # someone was first on one of them: each is retried as the single command
            for i, c in made:
                self.cases.evict(c.id)
                try:
                    out[i] = self._change(c.id, dict(changes)[c.id])
                except DomainError as refused:
                    out[i] = refused
            return out
        for _, c in made:
            self._cache(c)
        return out

    def commune_coverage(self, commune_code: str, year: int, exclude: UUID | None = None,
                         rules: RuleSet | None = None) -> CoverageFigures:
        """The 70% rule's figures from this service's own cases (TT124 Đ5 k4)."""
        rule = (rules or self.rules.for_year(year)).coverage
        managed = [p for p in self.units.in_commune(commune_code)
                   if p.unit_id != exclude and p.eligible and p.managed_by_commune(rule)]
        case_ids = [AssessmentCase.create_id(p.unit_id, year) for p in managed]
        versions = self.latest_versions(case_ids)  # one query for the commune, not one per unit
        registered = recognised = 0
        for case_id in case_ids:
            case = self._latest(case_id, versions.get(case_id))
            if case is not None and case.state is not CaseState.DA_DONG:
                registered += 1
                recognised += case.state is CaseState.CONG_NHAN
        return CoverageFigures(managed=len(managed), registered=registered, recognised=recognised)

    _UNREAD = -1  # `_latest` was not told the stored version: it reads it

    def _latest(self, case_id: UUID, stored_version: int | None = _UNREAD) -> AssessmentCase | None:
        """The case as the store holds it now, to read (never to change): the cached one when the store has
        nothing newer (one indexed read, nothing decoded; none when the caller read `stored_version`, the
        version of its last stored event or None, with others), else the stored one."""
        cached = self.cases.peek(case_id)
        if stored_version == self._UNREAD:
            if cached is not None and not self.recorder.select_events(case_id, gt=cached.version, limit=1):
                return cached  # type: ignore[no-any-return]
        else:
            if stored_version is None:  # nothing stored
                return cached  # type: ignore[no-any-return]  # as above: nothing newer than the cached one
            if cached is not None and stored_version <= cached.version:
                return cached  # type: ignore[no-any-return]
        return self._find(case_id)  # type: ignore[no-any-return]

    def _case_exists(self, case_id: UUID) -> bool:
        """Whether a case has been stored (one indexed read of its first event; nothing decoded)."""
        return self.cases.peek(case_id) is not None or bool(self.recorder.select_events(case_id, lte=1, limit=1))

    def _coverage_for(self, case: AssessmentCase, rules: RuleSet) -> CoverageFigures | None:
        if case.unit.unit_type is not UnitType.XA_PHUONG:
            return None
        return self.commune_coverage(case.unit.commune_code, case.year, exclude=case.unit_id, rules=rules)

    def _recognised(self, unit_id: UUID, year: int) -> bool:
        case = self._latest(AssessmentCase.create_id(unit_id, year))
        return case is not None and case.state is CaseState.CONG_NHAN

    # -- classification -------------------------------------------------------------------------------
    def propose_classification(self, unit_id: UUID, year: int, items: Mapping[str, float], actor: Actor,
                               effective_date: date | None = None) -> Classification:
        """The unit's own scoring and proposed level; one classification per unit and year."""
        profile = self._profile(unit_id)
        if self._find(Classification.create_id(unit_id, year), Classification) is not None:
            raise SecondCaseError("bản phân loại", "classification", str(unit_id), year)
        classification = Classification.propose(profile, year, items, self.rules.for_year(year), actor,
                                                effective_date or date.today())
        try:
            self.save(classification)
        except IntegrityError:
            raise SecondCaseError("bản phân loại", "classification", str(unit_id), year) from None
        return classification

    def classify(self, classification_id: UUID, decision: Decision, actor: Actor,
                 items: Mapping[str, float] | None = None) -> Classification:
        """The competent tier's classification decision (level derived from the thresholds in force)."""
        c = self.get_classification(classification_id)
        c.decide(decision, self.rules.get(c.rule_set_id), actor, items, self._recognised(c.unit_id, c.year))
        self._save_changes(c)
        return c

    def reclassify(self, classification_id: UUID, items: Mapping[str, float], reason: str, decision: Decision,
                   actor: Actor, effective_date: date | None = None) -> Classification:
        """Reclassify by a new decision; the event keeps the previous level."""
        c = self.get_classification(classification_id)
        c.reclassify(items, reason, decision, self.rules.get(c.rule_set_id), actor, effective_date or decision.date,
                     self._recognised(c.unit_id, c.year))
        self._save_changes(c)
        return c

    # -- điển hình (exemplary) ---------------------------------------------------------------------------
    def designate_exemplary(self, unit_id: UUID, year: int, criteria_set_id: str, criteria_met: int,
                            decision: Decision, actor: Actor) -> ExemplaryDesignation:
        """Designate a unit exemplary for a year under a QĐ 9745 criteria set; once per unit and year."""
        profile = self._profile(unit_id)
        if self._find(ExemplaryDesignation.create_id(unit_id, year), ExemplaryDesignation) is not None:
            raise SecondCaseError("công nhận điển hình", "exemplary designation", str(unit_id), year)
        designation = ExemplaryDesignation.designate(profile, year, criteria_set_id, criteria_met, decision,
                                                     self.rules.for_year(year), actor, decision.date)
        self.save(designation)
        return designation

    def withdraw_exemplary(self, designation_id: UUID, decision: Decision, reason: str,
                           actor: Actor) -> ExemplaryDesignation:
        """Withdraw an exemplary designation by decision."""
        found = self._find(designation_id, ExemplaryDesignation)
        if found is None:
            raise CaseNotFoundError(str(designation_id))
        found.withdraw(decision, reason, actor, decision.date)
        self._save_changes(found)
        return found  # type: ignore[no-any-return]

    # -- queries --------------------------------------------------------------------------------------
    def _find(self, aggregate_id: UUID, kind: type = AssessmentCase) -> Any:
        try:
            found: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def get_case(self, case_id: UUID) -> AssessmentCase:
        """The case with this id."""
        case = self._find(case_id)
        if case is None:
            raise CaseNotFoundError(str(case_id))
        return case  # type: ignore[no-any-return]

    def find_case(self, unit_id: UUID, year: int) -> AssessmentCase | None:
        """The unit's case for a year, or None."""
        return self._find(AssessmentCase.create_id(unit_id, year))  # type: ignore[no-any-return]

    def get_classification(self, classification_id: UUID) -> Classification:
        """The classification with this id."""
        found = self._find(classification_id, Classification)
        if found is None:
            raise CaseNotFoundError(str(classification_id))
        return found  # type: ignore[no-any-return]

    def list_cases(self, commune_code: str, year: int, state: CaseState | None = None) -> list[AssessmentCase]:
        """Cases of a year for the units located in a commune, optionally in one state."""
        found = (self._find(AssessmentCase.create_id(p.unit_id, year)) for p in self.units.in_commune(commune_code))
        return [c for c in found if c is not None and (state is None or c.state is state)]

    def history(self, aggregate_id: UUID) -> list[Any]:
        """Every stored event of a case or classification, oldest first."""
        return list(self.events.get(aggregate_id))

    def as_of(self, aggregate_id: UUID, at: datetime) -> Any:
        """A case or classification as it stood at a past recorded time."""
        if at.tzinfo is None:
            raise InvalidFieldError("Thời điểm phải có múi giờ", "the time must be timezone-aware", field="at")
        version = None
        e: Any
        for e in self.events.get(aggregate_id):
            if e.timestamp > at:
                break
            version = e.originator_version
        if version is None:
            raise CaseNotFoundError(str(aggregate_id), at.isoformat())
        return self.repository.get(aggregate_id, version=version)

    def case_at(self, case_id: UUID, at: datetime) -> AssessmentCase:
        """The case as it stood at a past recorded time."""
        return self.as_of(case_id, at)  # type: ignore[no-any-return]

    def explain(self, case_id: UUID) -> Explanation:
        """Each criterion, its value, threshold, met or not, and the rule-set id of the case."""
        case = self.get_case(case_id)
        if case.decision is not None:
            return case.explain()
        rules = self.rules.get(case.rule_set_id)
        return case.explain(rules, self._coverage_for(case, rules))

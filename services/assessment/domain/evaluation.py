"""Pure rule checks: validate results against the criteria, evaluate them, check authorities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from types import MappingProxyType
from typing import Any

from antt.eventstore.hashchain import SHARED, share
from services.assessment.domain.errors import InvalidAssessmentError, WrongAuthorityError
from services.assessment.domain.values import (
    Authority, Basis, CoverageFigures, CriterionEvaluation, CriterionResult, Finding,
)
from services.assessment.rules.model import Criterion, CriterionKind, RuleSet
from services.assessment.rules.types import Tier, UnitType

REGISTERED_PCT = "managed_units_registered_pct"
RECOGNISED_PCT = "managed_units_recognised_pct"
SHARED_LINES_MAX = 20_000  # distinct evaluation lines kept (a few hundred criteria × the usual values)
_EVALUATION_FIELDS = ("criterion_id", "label_vi", "label_en", "kind", "met", "basis", "value", "previous_value",
                      "threshold", "not_applicable", "exception")  # what shared_line's key holds
if tuple(f.name for f in fields(CriterionEvaluation)) != _EVALUATION_FIELDS:  # pragma: no cover
    raise RuntimeError("CriterionEvaluation changed: shared_line's key must hold every field")
_shared_lines: dict[tuple[Any, ...], CriterionEvaluation] = {}


def _exact(value: Any) -> tuple[Any, Any]:
    """A key equal only for values stored alike: 1, 1.0 and True differ, and so do 0.0 and -0.0."""
    return (float, repr(value)) if type(value) is float else (type(value), value)


def shared_line(line: CriterionEvaluation) -> CriterionEvaluation:
    """An equal line made before (same field values and types), else this one.

    Lines are immutable and repeat across thousands of cases (the same criterion, met the same
    way); the hash chain remembers a value's JSON text on it, so a shared line is written once
    for every Decided event that holds it instead of once per case.
    """
    key = (line.criterion_id, line.label_vi, line.label_en, line.kind, _exact(line.met), line.basis,
           _exact(line.value), _exact(line.previous_value), line.threshold, _exact(line.not_applicable),
           line.exception)  # every field (checked at import); text compares as the JSON it gives
    found = _shared_lines.get(key)
    if found is not None:
        return found
    if len(_shared_lines) >= SHARED_LINES_MAX:
        _shared_lines.clear()
    _shared_lines[key] = share(line)
    return line


@dataclass(frozen=True)
class UnitFacts:
    """What a case remembers about its unit (snapshotted at registration)."""

    unit_type: UnitType
    province_code: str
    commune_code: str
    managed_by: Tier
    delegated_to: Tier | None = None


def _bad(criterion_id: str, vi: str, en: str) -> InvalidAssessmentError:
    return InvalidAssessmentError(f"Tiêu chí {criterion_id}: {vi}", f"criterion {criterion_id}: {en}",
                                  field=f"results.{criterion_id}")


VALIDATED = "_antt_validated"  # not state: on a shared result or finding, the criteria sets it passed


def validate_result(rules: RuleSet, unit: UnitFacts, result: CriterionResult | Finding) -> None:
    """A result must name a declarable criterion of the unit type and carry what its kind needs."""
    state = result.__dict__
    if SHARED not in state:
        _validate(rules, unit, result)
        return
    # The check depends only on the criteria of (rule set, type, province) and the frozen value: a shared
    # value that passed against these criteria passes again (a failure is never remembered).
    criteria = _criteria_entry(rules, unit)
    passed: dict[int, Any] | None = state.get(VALIDATED)
    if passed is not None and passed.get(id(criteria)) is criteria:
        return
    _validate(rules, unit, result)
    if passed is None:
        passed = state[VALIDATED] = {}  # not a field: bypasses the frozen __setattr__
    passed[id(criteria)] = criteria  # held, so its id is not reused while remembered here


def _validate(rules: RuleSet, unit: UnitFacts, result: CriterionResult | Finding) -> None:
    cid = result.criterion_id
    criterion = criteria_by_id(rules, unit).get(cid)
    if criterion is None:
        raise _bad(cid, "không thuộc bộ tiêu chí của loại đơn vị này", "is not a criterion of this unit type")
    if cid not in _criteria(rules, unit)[1]:
        raise _bad(cid, "do hệ thống tính, không khai", "is computed by the service, not declared")
    if result.not_applicable:
        if not criterion.conditional:
            raise _bad(cid, "không được khai 'không áp dụng'", "cannot be declared not applicable")
        return
    if criterion.kind is CriterionKind.BOOLEAN and result.met is None:
        raise _bad(cid, "cần khai đạt hay không đạt", "needs met true or false")
    if criterion.kind is CriterionKind.NUMERIC:
        exception = is_exception(criterion, result)
        if exception and not result.note.strip():
            raise _bad(cid, "ngoại lệ (bất khả kháng, đã phát hiện và báo cáo kịp thời) cần ghi rõ lý do",
                       "an exception (force majeure, or detected, mitigated and reported) needs a note")
        if result.met is not None and not exception:
            raise _bad(cid, "chỉ người thẩm định được ghi nhận ngoại lệ, với tiêu chí cho phép",
                       "only an appraiser may record an exception, on a criterion that allows one")
        if result.value is None and not exception:
            raise _bad(cid, "cần giá trị số", "needs a numeric value")
        if (result.value is not None and criterion.threshold and criterion.threshold.needs_previous_year
                and result.previous_value is None):
            raise _bad(cid, "cần giá trị năm trước để so sánh", "needs the previous year's value")


def is_exception(criterion: Criterion, source: CriterionResult | Finding) -> bool:
    """An appraiser's "met despite the count" on a criterion TT124 exempts (bất khả kháng, k4b proviso)."""
    return isinstance(source, Finding) and source.met is True and criterion.force_majeure_exempt


# (id of the rule set, unit type, province) -> (the rule set, its criteria by id, the declarable ids).
# Rule sets are immutable once loaded, and every result of every command is checked against them,
# so this is worked out once per rule set, type and province instead of twice per result.
_CRITERIA: dict[tuple[int, UnitType, str], tuple[RuleSet, Mapping[str, Criterion], tuple[str, ...]]] = {}


def _criteria(rules: RuleSet, unit: UnitFacts) -> tuple[Mapping[str, Criterion], tuple[str, ...]]:
    known = _criteria_entry(rules, unit)
    return known[1], known[2]


def _criteria_entry(rules: RuleSet, unit: UnitFacts) -> tuple[RuleSet, Mapping[str, Criterion], tuple[str, ...]]:
    key = (id(rules), unit.unit_type, unit.province_code)
    known = _CRITERIA.get(key)
    if known is None or known[0] is not rules:  # the rule set held keeps its id from being reused
        by_id = {c.id: c for c in rules.criteria_for(unit.unit_type, unit.province_code)}
        ids = tuple(c.id for c in by_id.values()
                    if not c.computed and not (c.derived_from and all(d in by_id for d in c.derived_from)))
        known = (rules, MappingProxyType(by_id), ids)
        _CRITERIA[key] = known
    return known


def criteria_by_id(rules: RuleSet, unit: UnitFacts) -> Mapping[str, Criterion]:
    """The unit's mandatory criteria (with provincial extras), by id (read only)."""
    return _criteria(rules, unit)[0]


def declarable(rules: RuleSet, unit: UnitFacts) -> list[str]:
    """Ids of the criteria the unit itself must declare (not computed, not derived)."""
    return list(_criteria(rules, unit)[1])


def _judge(criterion: Criterion, source: CriterionResult | Finding, basis: Basis) -> CriterionEvaluation:
    threshold = criterion.threshold.describe() if criterion.threshold else ""
    common = dict(criterion_id=criterion.id, label_vi=criterion.label_vi, label_en=criterion.label_en,
                  kind=criterion.kind, basis=basis, threshold=threshold)
    if source.not_applicable:
        return CriterionEvaluation(**common, met=True, not_applicable=True)  # type: ignore[arg-type]
    if criterion.kind is CriterionKind.BOOLEAN:
        return CriterionEvaluation(**common, met=bool(source.met))  # type: ignore[arg-type]
    assert criterion.threshold is not None
    if is_exception(criterion, source):
        return CriterionEvaluation(**common, met=True, value=source.value,  # type: ignore[arg-type]
                                   previous_value=source.previous_value, exception=source.note)
    assert source.value is not None
    met = criterion.threshold.is_met(source.value, source.previous_value)
    return CriterionEvaluation(**common, met=met, value=source.value,  # type: ignore[arg-type]
                               previous_value=source.previous_value)


JUDGED = "_antt_judged"  # not state: on a shared result or finding, its shared line per (criterion, basis)


def _judged(criterion: Criterion, source: CriterionResult | Finding, basis: Basis) -> CriterionEvaluation:
    """`shared_line(_judge(...))`, remembered on a shared source: a line depends only on the criterion (an
    immutable rule), the source (a frozen value) and the basis, and shared sources recur across cases."""
    state = source.__dict__
    if SHARED not in state:
        return _judge(criterion, source, basis)
    memo: dict[tuple[int, Basis], tuple[Criterion, CriterionEvaluation]] | None = state.get(JUDGED)
    if memo is None:
        memo = state[JUDGED] = {}  # not a field: bypasses the frozen __setattr__, as the hash chain's memo
    known = memo.get((id(criterion), basis))
    if known is not None and known[0] is criterion:  # the criterion held keeps its id from being reused
        return known[1]
    line = shared_line(_judge(criterion, source, basis))
    memo[(id(criterion), basis)] = (criterion, line)
    return line


def evaluate(rules: RuleSet, unit: UnitFacts, results: Mapping[str, CriterionResult],
             findings: Mapping[str, Finding], coverage: CoverageFigures | None) -> tuple[CriterionEvaluation, ...]:
    """Judge every mandatory criterion: finding over self-assessment, computed ones from coverage."""
    criteria = criteria_by_id(rules, unit)
    out: dict[str, CriterionEvaluation] = {}
    derived: list[Criterion] = []
    for c in criteria.values():
        if c.computed:
            pct = None
            if coverage is not None:
                pct = coverage.registered_pct if c.computed == REGISTERED_PCT else coverage.recognised_pct
            assert c.threshold is not None
            out[c.id] = CriterionEvaluation(
                c.id, c.label_vi, c.label_en, c.kind, met=pct is not None and c.threshold.is_met(pct),
                basis=Basis.TINH_TOAN if pct is not None else Basis.THIEU, value=pct,
                threshold=c.threshold.describe())
        elif c.id in findings:
            out[c.id] = _judged(c, findings[c.id], Basis.THAM_DINH)
        elif c.derived_from and all(d in criteria for d in c.derived_from):
            derived.append(c)
        elif c.id in results:
            out[c.id] = _judged(c, results[c.id], Basis.TU_DANH_GIA)
        else:
            out[c.id] = CriterionEvaluation(c.id, c.label_vi, c.label_en, c.kind, met=False, basis=Basis.THIEU,
                                            threshold=c.threshold.describe() if c.threshold else "")
    for c in derived:
        out[c.id] = CriterionEvaluation(c.id, c.label_vi, c.label_en, c.kind, basis=Basis.TINH_TOAN,
                                        met=all(out[d].met for d in c.derived_from))
    # a line judged from a shared source is shared already (equal to what shared_line gives for it)
    return tuple(line if SHARED in line.__dict__ else shared_line(line) for line in (out[c] for c in criteria))


def unmet(evaluations: Iterable[CriterionEvaluation]) -> list[str]:
    """Ids of the criteria not met."""
    return [e.criterion_id for e in evaluations if not e.met]


def check_area(authority: Authority, unit: UnitFacts) -> None:
    """A commune or province authority may act only on units of its own area."""
    expected = {Tier.XA: unit.commune_code, Tier.TINH: unit.province_code}.get(authority.tier)
    if expected is not None and authority.area_code != expected:
        raise WrongAuthorityError(
            f"{authority.name} ({authority.area_code}) không có thẩm quyền với đơn vị thuộc địa bàn {expected}",
            f"{authority.name} ({authority.area_code}) has no authority over a unit of area {expected}",
            field="decision.authority")


def check_decider(rules: RuleSet, unit: UnitFacts, authority: Authority, on: date) -> None:
    """The authority must be the one the map names (or its delegate one tier down, TT124 Đ10 k5)."""
    managed = unit.managed_by
    tiers = rules.authority.decider_tiers(unit.unit_type, managed, unit.province_code, on)
    if (unit.delegated_to is not None and tiers and unit.delegated_to is rules.authority.below(tiers[0])
            and unit.unit_type in rules.authority.delegable_unit_types):
        tiers = (*tiers, unit.delegated_to)  # a unit managed by delegation: the delegate decides too
    if authority.tier not in tiers:
        allowed = ", ".join(t.label_vi for t in tiers) or "không có"
        raise WrongAuthorityError(
            f"{authority.tier.label_vi} không có thẩm quyền quyết định cho {unit.unit_type.label_vi} "
            f"(thẩm quyền: {allowed}; bộ quy tắc {rules.id})",
            f"tier {authority.tier.value} may not decide for {unit.unit_type.value} managed by {managed.value} "
            f"(allowed: {', '.join(t.value for t in tiers)}; rule set {rules.id})", field="decision.authority")
    check_area(authority, unit)

"""Load rule sets from YAML (package data) into RuleSet values; provisional values are recorded."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from services.assessment.rules.model import (
    AuthorityMap, AuthorityRule, ClassificationRules, CoverageRule, Criterion, CriterionKind, DayOfYear,
    Delegation, Instrument, Level, RuleSet, RuleSetError, Threshold, UnitTypeCalendar,
)
from services.assessment.rules.exemplary import ExemplaryRules, ExemplarySet
from services.assessment.rules.types import Tier, UnitType

CATALOGUE_FILE = "catalogue.yaml"


def unwrap(raw: Any, path: str, provisional: dict[str, str]) -> Any:
    """Replace every {value, provisional: true, note} by its value, recording path -> note."""
    if isinstance(raw, Mapping):
        if "value" in raw and raw.get("provisional"):
            provisional[path] = str(raw.get("note", ""))
            return unwrap(raw["value"], path, provisional)
        return {k: unwrap(v, f"{path}.{k}" if path else str(k), provisional) for k, v in raw.items()}
    if isinstance(raw, list):
        return [unwrap(v, f"{path}[{i}]", provisional) for i, v in enumerate(raw)]
    return raw


def _unit_types(raw: Any) -> tuple[UnitType, ...]:
    values = raw if isinstance(raw, list) else [raw]
    try:
        return tuple(UnitType(v) for v in values)
    except ValueError as exc:
        raise RuleSetError(str(exc)) from None


def _date(raw: Any) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise RuleSetError(f"not a date: {raw!r}") from None


def _criterion(raw: Mapping[str, Any], provisional: dict[str, str]) -> Criterion:
    t = raw.get("threshold")
    threshold = Threshold(op=t["op"], value=t["value"] if isinstance(t["value"], str) else float(t["value"]),
                          unit=t.get("unit", ""), metric=t.get("metric", "")) if t else None
    kind = CriterionKind(raw["kind"])
    if (kind is CriterionKind.NUMERIC) != (threshold is not None):
        raise RuleSetError(f"criterion {raw['id']}: numeric criteria need a threshold, others none")
    if raw.get("provisional"):
        provisional[f"criteria.{raw['id']}"] = str(raw.get("note", ""))
    return Criterion(id=raw["id"], label_vi=raw["label_vi"], label_en=raw["label_en"], kind=kind,
                     unit_types=_unit_types(raw["unit_types"]), threshold=threshold,
                     conditional=raw.get("conditional", ""), computed=raw.get("computed", ""),
                     derived_from=tuple(raw.get("derived_from") or ()),
                     force_majeure_exempt=bool(raw.get("force_majeure_exempt")),
                     source=raw.get("source", ""), provisional=bool(raw.get("provisional")),
                     note=raw.get("note", ""))


def _calendar(raw: Mapping[str, str]) -> UnitTypeCalendar:
    return UnitTypeCalendar(*(DayOfYear.parse(raw[k]) for k in (
        "window_from", "window_to", "decision_deadline", "classification_deadline")))


def _authority(raw: Mapping[str, Any], provisional: dict[str, str]) -> AuthorityMap:
    rules = []
    for i, r in enumerate(raw["rules"]):
        if r.get("provisional"):
            provisional[f"authority_map.rules[{i}]"] = str(r.get("source", ""))
        rules.append(AuthorityRule(unit_types=_unit_types(r["unit_types"]), decider=Tier(r["decider"]),
                                   decider_body=r.get("decider_body", ""),
                                   managed_by=Tier(r["managed_by"]) if r.get("managed_by") else None,
                                   appraiser=r.get("appraiser", ""), source=r.get("source", ""),
                                   provisional=bool(r.get("provisional"))))
    delegations = tuple(
        Delegation(province_code=str(d["province_code"]), from_tier=Tier(d["from_tier"]),
                   unit_types=_unit_types(d["unit_types"]), valid_from=_date(d["valid_from"]) or date.min,
                   valid_to=_date(d.get("valid_to")), reference=d.get("reference", ""))
        for d in raw.get("delegations") or [])
    delegable = _unit_types(raw.get("delegable_unit_types") or [])
    tiers = tuple(Tier(t) for t in raw.get("tiers") or [t.value for t in Tier])
    if list(tiers) != sorted(tiers, key=lambda t: t.rank):
        raise RuleSetError("authority_map.tiers must be listed lowest first")
    result = AuthorityMap(rules=tuple(rules), tiers=tiers, delegable_unit_types=delegable, delegations=delegations)
    for d in delegations:
        if result.below(d.from_tier) is None or not set(d.unit_types) <= set(delegable):
            raise RuleSetError(f"delegation {d.reference or d.province_code}: only one tier down, delegable types")
    return result


def _classification(raw: Mapping[str, Any]) -> ClassificationRules:
    levels = tuple(Level(id=v["id"], label_vi=v["label_vi"], label_en=v["label_en"],
                         min_points=float(v["min_points"]), award_eligible=bool(v["award_eligible"]),
                         requires_recognition=bool(v.get("requires_recognition")))
                   for v in raw["levels"])
    if [lv.min_points for lv in levels] != sorted((lv.min_points for lv in levels), reverse=True):
        raise RuleSetError("classification levels must be listed highest first")
    item_max = {UnitType(k): {str(i): float(p) for i, p in v.items()} for k, v in (raw.get("item_max") or {}).items()}
    by = raw.get("decided_by", "recognition_authority")
    decided_by = None if by == "recognition_authority" else {UnitType(k): Tier(v) for k, v in by.items()}
    return ClassificationRules(scale_min=float(raw["scale"]["min"]), scale_max=float(raw["scale"]["max"]),
                               levels=levels, item_max=item_max, decided_by=decided_by)


def _exemplary(raw: Mapping[str, Any] | None) -> ExemplaryRules:
    if not raw:
        return ExemplaryRules()
    sets = tuple(ExemplarySet(id=e["id"], label_vi=e["label_vi"], instrument=e.get("instrument", ""),
                              unit_types=_unit_types(e["unit_types"]), criteria_count=e.get("criteria_count"))
                 for e in raw.get("sets") or [])
    return ExemplaryRules(sets=sets, designated_by=Tier(raw.get("designated_by", "tinh")),
                          all_criteria_required=bool(raw.get("all_criteria_required", True)))


def build_rule_set(raw: Mapping[str, Any]) -> RuleSet:
    """A RuleSet from its (already merged) mapping; raises RuleSetError when malformed."""
    provisional: dict[str, str] = {}
    data = unwrap(dict(raw), "", provisional)
    try:
        criteria = tuple(_criterion(c, provisional) for c in data["criteria"])
        by_id = {c.id: c for c in criteria}
        cov = data["commune_coverage"]
        reg, rec = by_id[cov["registered_criterion"]], by_id[cov["recognised_criterion"]]
        if reg.threshold is None or rec.threshold is None:
            raise RuleSetError("coverage criteria need thresholds")
        coverage = CoverageRule(registered_criterion=reg.id, recognised_criterion=rec.id,
                                registered_min_pct=float(reg.threshold.value),
                                recognised_min_pct=float(rec.threshold.value),
                                counted_unit_types=_unit_types(cov["counted_unit_types"]),
                                include_units_managed_above=bool(cov["include_units_managed_above"]))
        provincial = {str(p): tuple(_criterion(c, provisional) for c in cs)
                      for p, cs in (data.get("provincial_criteria") or {}).items()}
        calendars = {UnitType(k): _calendar(v) for k, v in data["calendars"].items()}
        if set(calendars) != set(UnitType):
            raise RuleSetError("every unit type needs a calendar")
        return RuleSet(
            id=str(data["id"]), title=str(data.get("title", "")),
            instruments=tuple(Instrument(ref=i["ref"], signed=_date(i.get("signed")), title=i.get("title", ""))
                              for i in data.get("instruments") or []),
            in_force_from=_date(data["in_force"]["from"]) or date.min,
            in_force_to=_date(data["in_force"].get("to")),
            calendars=calendars, criteria=criteria, provincial_criteria=provincial,
            registration_deadline=DayOfYear.parse(data["registration"]["deadline"]),
            registration_dossier_required=tuple(data["registration"].get("dossier_required") or ()),
            coverage=coverage, classification=_classification(data["classification"]),
            authority=_authority(data["authority_map"], provisional),
            revocation_by_superior=bool(data["revocation"]["by_deciding_authority_or_superior"]),
            exemplary=_exemplary(data.get("exemplary")),
            provisional=provisional,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, RuleSetError):
            raise
        raise RuleSetError(f"rule set {raw.get('id')!r}: {type(exc).__name__}: {exc}") from None


def merge_bases(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Resolve `base:` references: a document's top-level keys replace its base's keys."""
    merged: dict[str, dict[str, Any]] = {}

    def resolve(doc_id: str, seen: tuple[str, ...]) -> dict[str, Any]:
        if doc_id in seen:
            raise RuleSetError(f"circular base: {' -> '.join((*seen, doc_id))}")
        if doc_id not in documents:
            raise RuleSetError(f"unknown base rule set {doc_id!r}")
        doc = dict(documents[doc_id])
        base_id = doc.pop("base", None)
        return {**resolve(base_id, (*seen, doc_id)), **doc} if base_id else doc

    for doc_id in documents:
        merged[doc_id] = resolve(doc_id, ())
    return merged


def read_documents(folder: Path | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Rule-set documents by id, and the catalogue settings, from a folder (default: package data)."""
    root: Any = folder if folder is not None else resources.files("services.assessment.rules") / "data"
    documents: dict[str, dict[str, Any]] = {}
    settings: dict[str, Any] = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml"):
            continue
        doc = yaml.safe_load(entry.read_text(encoding="utf-8"))
        if entry.name == CATALOGUE_FILE:
            settings = doc or {}
        elif doc["id"] in documents:
            raise RuleSetError(f"duplicate rule set id {doc['id']!r}")
        else:
            documents[doc["id"]] = doc
    return documents, settings

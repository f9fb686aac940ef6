"""A year's report for a scope: totals and per unit type, sub-areas ranked, near-threshold, award list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from antt.errors import InvalidArgumentError
from services.reporting.rollup.boundaries import BoundaryMode, area_name, place
from services.reporting.rollup.figures import Figures
from services.reporting.rollup.snapshot import Snapshot, UnitLife
from services.reporting.targets import Targets

SCOPE_KINDS = ("national", "province", "commune")


class InvalidScopeError(InvalidArgumentError):
    """A scope is not "national", "province:<code>" or "commune:<code>"."""

    reason = "INVALID_SCOPE"


@dataclass(frozen=True)
class Scope:
    """What a report covers."""

    kind: str
    code: str = ""

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse "national", "province:<code>" or "commune:<code>"."""
        kind, _, code = (text or "national").partition(":")
        if kind not in SCOPE_KINDS or (kind == "national") != (code == "") or not (code.isalnum() or not code):
            raise InvalidScopeError(f"Phạm vi không hợp lệ: {text!r} (national, province:<mã>, commune:<mã>)",
                                    f"invalid scope {text!r} (national, province:<code>, commune:<code>)",
                                    field="scope")
        return cls(kind, code)

    def __str__(self) -> str:
        return self.kind if self.kind == "national" else f"{self.kind}:{self.code}"


@dataclass
class AreaFigures:
    """One area's figures, in total and per unit type."""

    code: str
    name: str
    total: Figures = field(default_factory=Figures)
    by_type: dict[str, Figures] = field(default_factory=dict)

    def add_unit(self, unit_type: str, figures: Figures) -> None:
        """Count one unit's figures."""
        self.total.add(figures)
        self.by_type.setdefault(unit_type, Figures()).add(figures)

    def as_dict(self) -> dict[str, Any]:
        """Canonical form."""
        return {"code": self.code, "name": self.name, "total": self.total.as_dict(),
                "by_type": {t: f.as_dict() for t, f in sorted(self.by_type.items())}}


@dataclass
class Report:
    """A rollup for (year, scope, boundary mode)."""

    year: int
    scope: Scope
    boundary: BoundaryMode
    targets: Targets
    area: AreaFigures
    sub_areas: list[AreaFigures]
    near_threshold: list[dict[str, Any]]
    award_eligible: list[dict[str, str]]

    @property
    def meets_recognition_target(self) -> bool:
        """Whether the scope reaches the recognition target."""
        return self.targets.recognition.met(self.area.total.pct_recognised)

    @property
    def meets_classification_target(self) -> bool:
        """Whether the scope reaches the Khá-or-above target."""
        return self.targets.kha_or_above.met(self.area.total.pct_kha_or_above)

    def as_dict(self) -> dict[str, Any]:
        """Canonical form: what the digest is computed over."""
        return {"year": self.year, "scope": str(self.scope), "boundary": self.boundary.value,
                "targets": self.targets.as_dict(), "area": self.area.as_dict(),
                "meets_recognition_target": self.meets_recognition_target,
                "meets_classification_target": self.meets_classification_target,
                "sub_areas": [a.as_dict() for a in self.sub_areas], "near_threshold": self.near_threshold,
                "award_eligible": self.award_eligible}

    def canonical(self) -> bytes:
        """Canonical JSON bytes (sorted keys, no spaces, UTF-8)."""
        return json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    def digest(self) -> str:
        """SHA-256 of the canonical form, hex."""
        return hashlib.sha256(self.canonical()).hexdigest()


def case_figures(registered: bool, registered_late: bool, recognised: bool | None, decided_late: bool,
                 revoked: bool, level: str | None, classified_late: bool) -> Figures:
    """The figures one in-scope unit contributes, from its case and classification of the year."""
    f = Figures(in_scope=1)
    if registered:
        f.registered = 1
        f.registered_on_time = int(not registered_late)
        if recognised is not None:
            f.decided = 1
            f.decided_on_time = int(not decided_late)
            if not recognised:
                f.not_recognised = 1
            elif revoked:
                f.revoked = 1
            else:
                f.recognised = 1
    if level is not None:
        f.classified = 1
        f.levels[level] = f.levels.get(level, 0) + 1
        f.classified_on_time = int(not classified_late)
    return f


def unit_figures(snapshot: Snapshot, unit: UnitLife, year: int) -> tuple[Figures, str | None]:
    """The figures one in-scope unit contributes, and its level (if classified)."""
    case = snapshot.cases.get((unit.unit_id, year))
    classified = snapshot.levels.get((unit.unit_id, year))
    registered = case is not None and case.registered_on is not None
    figures = case_figures(registered, bool(case and case.registered_late), case.recognised if case else None,
                           bool(case and case.decided_late), bool(case and case.revoked_on is not None),
                           classified.level if classified else None, bool(classified and classified.late))
    return figures, classified.level if classified else None


@dataclass(frozen=True)
class Counted:
    """Units of one place and type counted in SQL (national rollups): their summed figures."""

    province: str
    commune: str
    unit_type: str
    figures: Figures


TargetsFor = Callable[[str, str], Targets]


def compute(snapshot: Snapshot, year: int, scope: Scope, boundary: BoundaryMode, targets_for: TargetsFor,
            today: date, counted: Iterable[Counted] = (), awarded: Iterable[dict[str, str]] = ()) -> Report:
    """The report of a scope for a year: each in-scope unit counted once, in its place under `boundary`.

    `counted` and `awarded` are in-scope units already counted elsewhere (not in the snapshot): their figures
    and their award lines when recognised (kept when their level is an award level of their place)."""
    scope_province = scope.code if scope.kind == "province" else ""
    targets = targets_for(scope_province, scope.code if scope.kind == "commune" else "")
    area = AreaFigures(scope.code or "VN", "Toàn quốc" if scope.kind == "national"
                       else area_name(snapshot, scope.kind, scope.code))
    subs: dict[str, AreaFigures] = {}
    awards: list[dict[str, str]] = []

    def count(group: Counted) -> None:
        area.add_unit(group.unit_type, group.figures)
        if scope.kind != "commune":
            level_name, sub_code = (("province", group.province) if scope.kind == "national"
                                    else ("commune", group.commune))
            sub = subs.setdefault(sub_code, AreaFigures(sub_code, area_name(snapshot, level_name, sub_code)))
            sub.add_unit(group.unit_type, group.figures)

    for unit_id in sorted(snapshot.units):
        unit = snapshot.units[unit_id]
        if not unit.places or not unit.exists_in(year) or not unit.eligible_on(unit.reference_date(year)):
            continue
        province, commune = place(snapshot, unit_id, year, boundary, today)
        if (scope.kind == "province" and province != scope.code) or (scope.kind == "commune" and commune != scope.code):
            continue
        unit_targets = targets_for(province, commune)
        figures, level = unit_figures(snapshot, unit, year)
        count(Counted(province, commune, unit.unit_type, figures))
        if figures.recognised and level in unit_targets.award_levels:
            awards.append({"unit_code": unit.code, "name": unit.name, "unit_type": unit.unit_type,
                           "province_code": province, "commune_code": commune, "level": level or ""})
    for group in counted:
        count(group)
    awards.extend(a for a in awarded if a["level"] in targets_for(a["province_code"], a["commune_code"]).award_levels)
    ranked = sorted(subs.values(), key=lambda a: (-(a.total.pct_recognised or 0.0), a.code))
    near = _near_threshold(ranked, scope, targets_for)
    return Report(year, scope, boundary, targets, area, ranked, near, sorted(awards, key=lambda a: a["unit_code"]))


def _near_threshold(subs: list[AreaFigures], scope: Scope, targets_for: TargetsFor) -> list[dict[str, Any]]:
    """Sub-areas whose rates lie within the margin of a target, on either side."""
    near = []
    for sub in subs:
        t = targets_for(sub.code, "") if scope.kind == "national" else targets_for(scope.code, sub.code)
        for measure, value, threshold in (("recognition", sub.total.pct_recognised, t.recognition),
                                          ("kha_or_above", sub.total.pct_kha_or_above, t.kha_or_above)):
            if value is not None and abs(value - threshold.pct) <= t.near_margin_pct:
                near.append({"code": sub.code, "measure": measure, "pct": value, "target": threshold.label(),
                             "met": threshold.met(value)})
    return near

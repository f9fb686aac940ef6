"""Targets and deadlines per jurisdiction and year, loaded from the YAML files of this directory."""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from antt.errors import InvalidArgumentError

DIRECTORY = Path(__file__).parent
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt}
_SCOPE_RANK = {"national": 0, "province": 1, "commune": 2}


class TargetsError(InvalidArgumentError):
    """A targets file is malformed."""

    reason = "INVALID_TARGETS"


@dataclass(frozen=True)
class Threshold:
    """A percentage target such as "≥ 70%"."""

    op: str
    pct: float

    def met(self, value: float | None) -> bool:
        """Whether a percentage meets the target (no value: not met)."""
        return value is not None and _OPS[self.op](value, self.pct)

    def label(self) -> str:
        """E.g. "≥ 70%"."""
        return f"{'≥' if self.op == '>=' else '>'} {self.pct:g}%"


@dataclass(frozen=True)
class Targets:
    """What one jurisdiction's report for one year is measured against."""

    year: int
    recognition: Threshold
    kha_or_above: Threshold
    near_margin_pct: float
    award_levels: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Canonical form (part of a report's digest)."""
        return {"recognition": self.recognition.label(), "kha_or_above": self.kha_or_above.label(),
                "near_margin_pct": self.near_margin_pct, "award_levels": list(self.award_levels)}


def _threshold(raw: Mapping[str, Any], what: str) -> Threshold:
    if raw.get("op") not in _OPS or not isinstance(raw.get("pct"), (int, float)):
        raise TargetsError(f"Chỉ tiêu {what} không hợp lệ: {raw!r}", f"invalid {what} target {raw!r}", field=what)
    return Threshold(str(raw["op"]), float(raw["pct"]))


_PARSED: dict[tuple[tuple[str, int, int], ...], list[dict[str, Any]]] = {}


def load_files(directory: Path = DIRECTORY) -> list[dict[str, Any]]:
    """The parsed YAML files of a directory, national.yaml first, then by name."""
    files = sorted(directory.glob("*.yaml"), key=lambda p: (p.name != "national.yaml", p.name))
    # Parsed again only when a file changes (name, mtime, size): parsing cost a few ms of every rollup.
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if stamp not in _PARSED:
        _PARSED.clear()
        _PARSED[stamp] = [yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in files]
    return copy.deepcopy(_PARSED[stamp])


def _scope_applies(scope: str, province: str, commune: str) -> int | None:
    kind, _, code = scope.partition(":")
    if kind == "national":
        return 0
    if kind == "province" and code == province:
        return 1
    if kind == "commune" and code == commune:
        return 2
    return None


def resolve(year: int, province: str = "", commune: str = "", files: list[dict[str, Any]] | None = None
            ) -> Targets:
    """Targets in force for a jurisdiction (national: no codes) and year; more specific overrides win."""
    files = load_files() if files is None else files
    merged: dict[str, Any] = {}
    for f in files:
        merged.update(f.get("defaults") or {})
    matches = []
    for order, f in enumerate(files):
        for o in f.get("overrides") or []:
            rank = _scope_applies(str(o.get("scope", "")), province, commune)
            if rank is not None and (not o.get("years") or year in o["years"]):
                matches.append((rank, order, o))
    for _, _, o in sorted(matches, key=lambda m: (m[0], m[1])):
        merged.update({k: v for k, v in o.items() if k not in ("scope", "years")})
    try:
        return Targets(
            year=year, recognition=_threshold(merged["recognition"], "recognition"),
            kha_or_above=_threshold(merged["kha_or_above"], "kha_or_above"),
            near_margin_pct=float(merged["near_margin_pct"]),
            award_levels=tuple(merged["award_levels"]))
    except KeyError as missing:
        raise TargetsError(f"Thiếu chỉ tiêu {missing.args[0]}", f"target {missing.args[0]} is missing",
                           field=str(missing.args[0])) from None

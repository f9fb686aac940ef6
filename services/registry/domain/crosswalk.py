"""Pure functions over area histories: the tree on a date, and where an old code went."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from services.registry.domain.area_history import AreaHistory, AreaKey, AreaKind, AreaLevel

Histories = Mapping[AreaKey, AreaHistory]


@dataclass(frozen=True)
class TreeNode:
    """One area as it stood on a date."""

    key: AreaKey
    name: str
    kind: AreaKind
    parent: AreaKey | None


@dataclass(frozen=True)
class Resolution:
    """The areas in force on a date that an old code maps to; exact when it maps to one area as a whole."""

    key: AreaKey
    on: date
    codes: tuple[str, ...]
    exact: bool


def index(histories: Iterable[AreaHistory]) -> dict[AreaKey, AreaHistory]:
    """Histories by (level, code)."""
    return {h.key: h for h in histories}


def tree_as_of(histories: Iterable[AreaHistory], on: date) -> list[TreeNode]:
    """Every area that existed on the date, with its name, kind and parent then; top tier first, then by code."""
    nodes = []
    for h in histories:
        state = h.state_on(on)
        if state is not None:
            nodes.append(TreeNode(h.key, state.name, state.kind, state.parent))
    return sorted(nodes, key=lambda n: n.key.sort_key())


def children_as_of(histories: Iterable[AreaHistory], parent: AreaKey, on: date) -> list[TreeNode]:
    """The areas directly under `parent` on the date."""
    return [n for n in tree_as_of(histories, on) if n.parent == parent]


def resolve(histories: Histories, key: AreaKey, on: date) -> Resolution:
    """Which areas in force on `on` the area `key` maps to, following merges and splits dated up to `on`.

    An area still in force maps to itself; a merged area to its target; a split area to all its parts. When
    part of an area went elsewhere, or the answer is not a single area, the resolution is not exact. An area
    abolished without successor, or not yet created on `on`, maps to nothing.
    """
    start = histories.get(key)
    if start is None or (start.established_on is not None and on < start.established_on):
        return Resolution(key, on, (), False)
    found: set[str] = set()
    exact = True
    stack = [key]
    seen: set[AreaKey] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        history = histories.get(current)
        if history is None:
            exact = False
            continue
        if history.exists_on(on):
            found.add(current.code)
        for succession in history.successions:
            if succession.effective_date <= on:
                exact = exact and succession.whole
                stack.extend(AreaKey(current.level, code) for code in succession.codes)
    codes = tuple(sorted(found))
    return Resolution(key, on, codes, exact and len(codes) == 1)


def ancestor_as_of(histories: Histories, key: AreaKey, on: date, level: AreaLevel) -> AreaKey | None:
    """The area of `level` above `key` on the date (the key itself if it is of that level)."""
    current: AreaKey | None = key
    seen: set[AreaKey] = set()
    while current is not None and current not in seen:
        if current.level is level:
            return current
        seen.add(current)
        history = histories.get(current)
        state = history.state_on(on) if history else None
        current = state.parent if state else None
    return None


def change_dates(histories: Iterable[AreaHistory]) -> list[date]:
    """Every date on which some area changed, ascending."""
    dates: set[date] = set()
    for h in histories:
        dates.update(h.change_dates())
    return sorted(dates)

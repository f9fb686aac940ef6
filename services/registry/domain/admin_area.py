"""The AdminArea aggregate: an administrative area whose name, parent and existence are effective-dated."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from eventsourcing.domain import event

from antt.actor import Actor
from antt.eventstore.hashchain import ChainedAggregate
from services.registry.domain import errors
from services.registry.domain.area_history import (KINDS_BY_LEVEL, PARENT_LEVELS, TWO_TIER_FROM, AreaHistory,
                                                   AreaKey, AreaKind, AreaLevel, AreaState, Succession)
from services.registry.domain.unit import clean_text

AREA_NAMESPACE = uuid.UUID("0b7c58f2-93e4-5d0a-8c61-3f2a1d7e2025")
NAME_MAX = 200
CODE_MAX = 20
BASIS_MAX = 300


def _text(value: str, field: str, label_vi: str, max_length: int) -> str:
    return clean_text(value, field, label_vi, max_length, error=errors.InvalidAreaFieldError)


def _check_kind(level: AreaLevel, kind: AreaKind, effective_date: date | None) -> None:
    """The kind must belong to the level; districts and thị trấn are history only."""
    if kind not in KINDS_BY_LEVEL[level]:
        valid = ", ".join(sorted(k.value for k in KINDS_BY_LEVEL[level]))
        raise errors.InvalidAreaFieldError(f"Loại {kind.value!r} không thuộc cấp {level.value} (hợp lệ: {valid})",
                                           f"kind {kind.value!r} is not valid for level {level.value} "
                                           f"(valid: {valid})", field="kind")
    if effective_date is not None and effective_date >= TWO_TIER_FROM:
        if level is AreaLevel.DISTRICT:
            raise errors.history_only("Cấp huyện", "the district tier", effective_date)
        if kind is AreaKind.THI_TRAN:
            raise errors.history_only("Thị trấn", "a thị trấn", effective_date)


def _check_parent(level: AreaLevel, parent: AdminArea | None, effective_date: date | None) -> None:
    """The parent must be of an allowed level and exist on the effective date."""
    allowed = PARENT_LEVELS[level]
    if parent is None:
        if allowed:
            raise errors.InvalidAreaFieldError(f"Cấp {level.value} phải có đơn vị cấp trên",
                                               f"a {level.value} area needs a parent", field="parent_code")
        return
    if parent.level not in allowed:
        raise errors.InvalidAreaFieldError(
            f"Đơn vị cấp trên của cấp {level.value} không thể là cấp {parent.level.value}",
            f"a {level.value} area cannot have a {parent.level.value} parent", field="parent_code")
    if effective_date is None:  # from before the records: so must the parent be
        if parent.established_on is not None:
            raise errors.AreaRuleError(
                f"Đơn vị cấp trên {parent.code} chỉ tồn tại từ {parent.established_on}; cần ngày hiệu lực",
                f"parent {parent.code} exists only from {parent.established_on}; an effective date is needed",
                field="effective_date", reason="AREA_NOT_IN_FORCE")
        return
    if parent.abolished_on is not None and effective_date >= parent.abolished_on:
        raise errors.area_abolished(parent.code, parent.abolished_on)
    if parent.established_on is not None and effective_date < parent.established_on:
        raise errors.area_not_in_force(parent.code, effective_date, field="parent_code")
    if effective_date is not None and parent.level is AreaLevel.DISTRICT and effective_date >= TWO_TIER_FROM:
        raise errors.history_only("Cấp huyện", "the district tier", effective_date)


class AdminArea(ChainedAggregate):
    """An administrative area (national, province, district, commune); id derived from (level, code)."""

    @staticmethod
    def create_id(level: AreaLevel, code: str) -> uuid.UUID:
        """Area ids are UUID5 of level and code: an area can be created once."""
        return uuid.uuid5(AREA_NAMESPACE, f"{level.value}:{code}")

    @classmethod
    def establish(cls, level: AreaLevel, code: str, name: str, kind: AreaKind, parent: AdminArea | None,
                  effective_date: date | None, legal_basis: str, actor: Actor,
                  formed_from: Sequence[str] = ()) -> AdminArea:
        """Create an area after checking kind, parent and texts (effective_date None: before the records)."""
        code = _text(code, "code", "Mã đơn vị hành chính", CODE_MAX)
        name = _text(name, "name", "Tên đơn vị hành chính", NAME_MAX)
        legal_basis = _text(legal_basis, "legal_basis", "Căn cứ pháp lý", BASIS_MAX)
        _check_kind(level, kind, effective_date)
        _check_parent(level, parent, effective_date)
        return cls(level=level, code=code, name=name, kind=kind,
                   parent_level=parent.level if parent else None, parent_code=parent.code if parent else "",
                   effective_date=effective_date, legal_basis=legal_basis, formed_from=list(formed_from),
                   actor=actor)

    @event("Created")
    def __init__(self, level: AreaLevel, code: str, name: str, kind: AreaKind, parent_level: AreaLevel | None,
                 parent_code: str, effective_date: date | None, legal_basis: str, formed_from: list[str],
                 actor: Actor) -> None:
        self.level = level
        self.code = code
        self.established_on = effective_date
        self.formed_from = list(formed_from)
        self.created_by = actor
        parent = AreaKey(parent_level, parent_code) if parent_level is not None else None
        self.states = [AreaState(effective_date, name, kind, parent, legal_basis)]
        self.successions: list[Succession] = []
        self.abolished_on: date | None = None
        self.last_change_on: date | None = effective_date

    # -- reading ---------------------------------------------------------------------------------

    @property
    def key(self) -> AreaKey:
        """(level, code)."""
        return AreaKey(self.level, self.code)

    @property
    def current(self) -> AreaState:
        """The latest recorded state (name, kind, parent)."""
        return self.states[-1]

    def history(self) -> AreaHistory:
        """An immutable snapshot of the area's history, for the crosswalk."""
        return AreaHistory(self.key, self.established_on, tuple(self.formed_from), tuple(self.states),
                           self.abolished_on, tuple(self.successions))

    def check_change(self, effective_date: date) -> None:
        """A change must not touch an abolished area nor be dated before its creation or last change."""
        if self.abolished_on is not None:
            raise errors.area_abolished(self.code, self.abolished_on)
        if self.established_on is not None and effective_date < self.established_on:
            raise errors.effective_before_existed(self.code, effective_date, self.established_on)
        if self.last_change_on is not None and effective_date < self.last_change_on:
            raise errors.effective_before_last_change(self.code, effective_date, self.last_change_on)

    # -- commands --------------------------------------------------------------------------------

    def rename(self, name: str, effective_date: date, legal_basis: str, actor: Actor,
               kind: AreaKind | None = None) -> None:
        """Rename (and possibly reclassify, e.g. xã → phường) from the effective date."""
        self.check_change(effective_date)
        name = _text(name, "name", "Tên đơn vị hành chính", NAME_MAX)
        legal_basis = _text(legal_basis, "legal_basis", "Căn cứ pháp lý", BASIS_MAX)
        new_kind = kind or self.current.kind
        _check_kind(self.level, new_kind, effective_date)
        self._renamed(name=name, kind=new_kind, effective_date=effective_date, legal_basis=legal_basis, actor=actor)

    @event("Renamed")
    def _renamed(self, name: str, kind: AreaKind, effective_date: date, legal_basis: str, actor: Actor) -> None:
        cur = self.current
        self.states.append(AreaState(effective_date, name, kind, cur.parent, legal_basis))
        self.last_change_on = effective_date

    def reparent(self, parent: AdminArea, effective_date: date, legal_basis: str, actor: Actor) -> None:
        """Move the area under another parent from the effective date."""
        self.check_change(effective_date)
        legal_basis = _text(legal_basis, "legal_basis", "Căn cứ pháp lý", BASIS_MAX)
        if parent.key == self.key:
            raise errors.merged_into_itself(self.code)
        _check_parent(self.level, parent, effective_date)
        self._reparented(parent_level=parent.level, parent_code=parent.code, effective_date=effective_date,
                         legal_basis=legal_basis, actor=actor)

    @event("Reparented")
    def _reparented(self, parent_level: AreaLevel, parent_code: str, effective_date: date, legal_basis: str,
                    actor: Actor) -> None:
        cur = self.current
        self.states.append(AreaState(effective_date, cur.name, cur.kind, AreaKey(parent_level, parent_code),
                                     legal_basis))
        self.last_change_on = effective_date

    def abolish(self, effective_date: date, legal_basis: str, actor: Actor) -> None:
        """End the area without a successor (e.g. the district tier on 01/7/2025)."""
        self.check_change(effective_date)
        legal_basis = _text(legal_basis, "legal_basis", "Căn cứ pháp lý", BASIS_MAX)
        self._abolished(effective_date=effective_date, legal_basis=legal_basis, actor=actor)

    @event("Abolished")
    def _abolished(self, effective_date: date, legal_basis: str, actor: Actor) -> None:
        self.abolished_on = effective_date
        self.last_change_on = effective_date

    @event("MergedInto")
    def _merged_into(self, target_code: str, effective_date: date, legal_basis: str, actor: Actor) -> None:
        self.successions.append(Succession(effective_date, (target_code,), True, legal_basis))
        self.abolished_on = effective_date
        self.last_change_on = effective_date

    @event("SplitUp")
    def _split_up(self, target_codes: list[str], continues: bool, effective_date: date, legal_basis: str,
                  actor: Actor) -> None:
        self.successions.append(Succession(effective_date, tuple(target_codes), not continues, legal_basis))
        if not continues:
            self.abolished_on = effective_date
        self.last_change_on = effective_date

    @event("Absorbed")
    def _absorbed(self, source_codes: list[str], whole: bool, effective_date: date, legal_basis: str,
                  actor: Actor) -> None:
        self.formed_from.extend(c for c in source_codes if c not in self.formed_from)
        self.last_change_on = effective_date


def _check_reorganisation(sources: Sequence[AdminArea], targets: Sequence[AdminArea], effective_date: date) -> None:
    """Same level everywhere, no area on both sides, no duplicates, every area open to change on the date."""
    for target in targets:
        if any(s.key == target.key for s in sources):
            raise errors.merged_into_itself(target.code)
    keys = [a.key for a in (*sources, *targets)]
    if len(set(keys)) != len(keys):
        raise errors.InvalidAreaFieldError("Một đơn vị hành chính được nêu hai lần",
                                           "an area is named twice", field="source_codes")
    levels = {a.level for a in (*sources, *targets)}
    if len(levels) != 1:
        raise errors.InvalidAreaFieldError("Các đơn vị sáp nhập/chia tách phải cùng cấp",
                                           "merged or split areas must be of the same level", field="target_code")
    for area in (*sources, *targets):
        area.check_change(effective_date)


def merge(sources: Sequence[AdminArea], target: AdminArea, effective_date: date, legal_basis: str,
          actor: Actor) -> None:
    """Merge N areas into one: the sources are abolished into the target, which absorbs them."""
    if not sources:
        raise errors.InvalidAreaFieldError("Cần ít nhất một đơn vị được sáp nhập", "merge needs at least one source",
                                           field="source_codes")
    legal_basis = _text(legal_basis, "legal_basis", "Căn cứ pháp lý", BASIS_MAX)
    _check_reorganisation(sources, [target], effective_date)
    for source in sources:
        source._merged_into(target_code=target.code, effective_date=effective_date, legal_basis=legal_basis,
                            actor=actor)
    target._absorbed(source_codes=[s.code for s in sources], whole=True, effective_date=effective_date,
                     legal_basis=legal_basis, actor=actor)


def split(source: AdminArea, targets: Sequence[AdminArea], effective_date: date, legal_basis: str, actor: Actor,
          continues: bool = False) -> None:
    """Split one area into N: each target receives part; the source ends unless it `continues`."""
    if len(targets) < (1 if continues else 2):
        raise errors.InvalidAreaFieldError("Chia tách cần ít nhất hai đơn vị mới (hoặc một, nếu đơn vị cũ còn lại)",
                                           "a split needs two targets (or one if the source continues)",
                                           field="target_codes")
    legal_basis = _text(legal_basis, "legal_basis", "Căn cứ pháp lý", BASIS_MAX)
    _check_reorganisation([source], targets, effective_date)
    source._split_up(target_codes=[t.code for t in targets], continues=continues, effective_date=effective_date,
                     legal_basis=legal_basis, actor=actor)
    for target in targets:
        target._absorbed(source_codes=[source.code], whole=False, effective_date=effective_date,
                         legal_basis=legal_basis, actor=actor)

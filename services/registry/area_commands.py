"""Registry commands and queries over administrative areas (mixed into the Registry application)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from antt.actor import Actor
from services.registry.catalog import Catalog
from services.registry.domain import admin_area, crosswalk
from antt.errors import parse_enum
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaHistory, AreaKey, AreaKind, AreaLevel
from services.registry.domain.crosswalk import Resolution, TreeNode
from services.registry.domain.errors import AreaAlreadyExistsError, AreaNotFoundError, InvalidAreaFieldError
from services.registry.reference.tree import build_tree


def parse_level(value: AreaLevel | str) -> AreaLevel:
    """An AreaLevel from its value, or INVALID_ARGUMENT naming the field."""
    return parse_enum(AreaLevel, value, "level", "Cấp hành chính", InvalidAreaFieldError)


def parse_kind(value: AreaKind | str) -> AreaKind:
    """An AreaKind from its value, or INVALID_ARGUMENT naming the field."""
    return parse_enum(AreaKind, value, "kind", "Loại đơn vị hành chính", InvalidAreaFieldError)


class AreaCommands:
    """Create and reorganise areas; every change carries an effective date and a legal basis."""

    repository: Any  # provided by the Application
    save: Any
    catalog: Catalog

    def get_area(self, level: AreaLevel | str, code: str, field: str = "code") -> AdminArea:
        """The area with this level and code, or NOT_FOUND naming the field."""
        lvl = parse_level(level)
        try:
            return self.repository.get(AdminArea.create_id(lvl, code))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            raise AreaNotFoundError(lvl.value, code, field) from None

    def save_new_areas(self, *areas: AdminArea) -> None:
        """Save new areas atomically; an existing (level, code) rejects the whole save (bulk imports)."""
        self._save_areas(*areas)

    def _save_areas(self, *areas: AdminArea) -> None:
        try:
            self.save(*areas)
        except IntegrityError:
            raise AreaAlreadyExistsError(", ".join(str(a.key) for a in areas[:5])) from None

    def _parent(self, level: AreaLevel, parent_level: AreaLevel | str | None, parent_code: str) -> AdminArea | None:
        if not parent_code:
            return None
        plevel = parse_level(parent_level) if parent_level else _default_parent_level(level)
        return self.get_area(plevel, parent_code, "parent_code")

    def create_area(self, level: AreaLevel | str, code: str, name: str, kind: AreaKind | str, parent_code: str,
                    effective_date: date | None, legal_basis: str, actor: Actor,
                    parent_level: AreaLevel | str | None = None) -> AdminArea:
        """Create an area under an existing parent; a (level, code) can be created once."""
        lvl = parse_level(level)
        area = AdminArea.establish(lvl, code, name, parse_kind(kind), self._parent(lvl, parent_level, parent_code),
                                   effective_date, legal_basis, actor)
        self._save_areas(area)
        return area

    def rename_area(self, level: AreaLevel | str, code: str, name: str, effective_date: date, legal_basis: str,
                    actor: Actor, kind: AreaKind | str | None = None) -> AdminArea:
        """Rename (and possibly reclassify) an area from the effective date."""
        area = self.get_area(level, code)
        area.rename(name, effective_date, legal_basis, actor, kind=parse_kind(kind) if kind else None)
        self.save(area)
        return area

    def reparent_area(self, level: AreaLevel | str, code: str, parent_code: str, effective_date: date,
                      legal_basis: str, actor: Actor, parent_level: AreaLevel | str | None = None) -> AdminArea:
        """Put an area under another parent from the effective date."""
        area = self.get_area(level, code)
        parent = self._parent(area.level, parent_level, parent_code)
        if parent is None:
            raise InvalidAreaFieldError("Thiếu mã đơn vị cấp trên", "parent_code is required", field="parent_code")
        area.reparent(parent, effective_date, legal_basis, actor)
        self.save(area)
        return area

    def abolish_area(self, level: AreaLevel | str, code: str, effective_date: date, legal_basis: str,
                     actor: Actor) -> AdminArea:
        """End an area without a successor from the effective date."""
        area = self.get_area(level, code)
        area.abolish(effective_date, legal_basis, actor)
        self.save(area)
        return area

    def merge_areas(self, level: AreaLevel | str, source_codes: Sequence[str], target_code: str,
                    effective_date: date, legal_basis: str, actor: Actor, *, new_name: str = "",
                    new_kind: AreaKind | str = "", parent_code: str = "",
                    parent_level: AreaLevel | str | None = None) -> AdminArea:
        """Merge N areas into one, atomically; with `new_name` the target is created by the merge."""
        lvl = parse_level(level)
        sources = [self.get_area(lvl, c, "source_codes") for c in source_codes]
        if new_name:
            target = AdminArea.establish(lvl, target_code, new_name, parse_kind(new_kind),
                                         self._parent(lvl, parent_level, parent_code), effective_date, legal_basis,
                                         actor, formed_from=list(source_codes))
        else:
            target = self.get_area(lvl, target_code, "target_code")
        admin_area.merge(sources, target, effective_date, legal_basis, actor)
        self._save_areas(*sources, target)
        return target

    def split_area(self, level: AreaLevel | str, source_code: str, targets: Sequence[tuple[str, str, str]],
                   effective_date: date, legal_basis: str, actor: Actor, *, continues: bool = False,
                   parent_code: str = "", parent_level: AreaLevel | str | None = None) -> list[AdminArea]:
        """Split an area into parts, atomically: each target is (code, name, kind), name "" for an existing area."""
        lvl = parse_level(level)
        source = self.get_area(lvl, source_code, "source_code")
        parent = self._parent(lvl, parent_level, parent_code) if parent_code else None
        if parent is None and source.current.parent is not None:
            parent = self.get_area(source.current.parent.level, source.current.parent.code, "parent_code")
        parts = [AdminArea.establish(lvl, code, name, parse_kind(kind), parent, effective_date, legal_basis, actor,
                                     formed_from=[source_code]) if name else self.get_area(lvl, code, "target_codes")
                 for code, name, kind in targets]
        admin_area.split(source, parts, effective_date, legal_basis, actor, continues=continues)
        self._save_areas(source, *parts)
        return parts

    def load_reference_tree(self, actor: Actor, commune_provinces: Collection[str] | None = None) -> int:
        """Load the shipped provinces (with the 2025 merger) and 2025 communes; returns the number of areas."""
        areas = build_tree(actor, commune_provinces)
        self._save_areas(*areas)
        return len(areas)

    # -- queries ---------------------------------------------------------------------------------

    def area_histories(self) -> dict[AreaKey, AreaHistory]:
        """Every area's history by (level, code)."""
        return self.catalog.histories()

    def tree_as_of(self, on: date, level: AreaLevel | str | None = None) -> list[TreeNode]:
        """The areas in force on the date with their parents then (optionally of one level)."""
        nodes = crosswalk.tree_as_of(self.catalog.histories().values(), on)
        return [n for n in nodes if level is None or n.key.level is parse_level(level)]

    def resolve_old_code(self, level: AreaLevel | str, code: str, on: date) -> Resolution:
        """Which areas in force on the date the (possibly old) code maps to."""
        lvl = parse_level(level)
        histories = self.catalog.histories()
        key = AreaKey(lvl, code)
        if key not in histories:
            raise AreaNotFoundError(lvl.value, code)
        return crosswalk.resolve(histories, key, on)


def _default_parent_level(level: AreaLevel) -> AreaLevel:
    """Province for a commune (two-tier), national for a province, province for a district."""
    return {AreaLevel.PROVINCE: AreaLevel.NATIONAL, AreaLevel.DISTRICT: AreaLevel.PROVINCE,
            AreaLevel.COMMUNE: AreaLevel.PROVINCE, AreaLevel.NATIONAL: AreaLevel.NATIONAL}[level]

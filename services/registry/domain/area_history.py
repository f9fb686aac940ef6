"""Values describing administrative areas and their effective-dated history (no behaviour, no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

# Two-tier local government from this date: no district tier, no thị trấn (regulations §1.6, §3.8).
TWO_TIER_FROM = date(2025, 7, 1)


class AreaLevel(enum.Enum):
    """Tier of an administrative area; district exists only in history (before 01/7/2025)."""

    NATIONAL = "national"
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class AreaKind(enum.Enum):
    """Kind of area within its tier (values are the Vietnamese terms without diacritics)."""

    TOAN_QUOC = "toan_quoc"  # the national level, managed by Bộ Công an
    TINH = "tinh"
    THANH_PHO = "thanh_pho"  # thành phố trực thuộc trung ương, or (district tier) thuộc tỉnh
    HUYEN = "huyen"
    QUAN = "quan"
    THI_XA = "thi_xa"
    XA = "xa"
    PHUONG = "phuong"
    DAC_KHU = "dac_khu"
    THI_TRAN = "thi_tran"  # history only


KINDS_BY_LEVEL: dict[AreaLevel, frozenset[AreaKind]] = {
    AreaLevel.NATIONAL: frozenset({AreaKind.TOAN_QUOC}),
    AreaLevel.PROVINCE: frozenset({AreaKind.TINH, AreaKind.THANH_PHO}),
    AreaLevel.DISTRICT: frozenset({AreaKind.HUYEN, AreaKind.QUAN, AreaKind.THI_XA, AreaKind.THANH_PHO}),
    AreaLevel.COMMUNE: frozenset({AreaKind.XA, AreaKind.PHUONG, AreaKind.DAC_KHU, AreaKind.THI_TRAN}),
}
PARENT_LEVELS: dict[AreaLevel, frozenset[AreaLevel]] = {
    AreaLevel.NATIONAL: frozenset(),
    AreaLevel.PROVINCE: frozenset({AreaLevel.NATIONAL}),
    AreaLevel.DISTRICT: frozenset({AreaLevel.PROVINCE}),
    AreaLevel.COMMUNE: frozenset({AreaLevel.DISTRICT, AreaLevel.PROVINCE}),
}
LEVEL_ORDER = {level: i for i, level in enumerate(AreaLevel)}


@dataclass(frozen=True)
class AreaKey:
    """Natural key of an area: its tier and official code."""

    level: AreaLevel
    code: str

    def sort_key(self) -> tuple[int, str]:
        """Stable order: by tier from the top, then by code."""
        return LEVEL_ORDER[self.level], self.code

    def __str__(self) -> str:
        return f"{self.level.value}:{self.code}"


@dataclass(frozen=True)
class AreaState:
    """Name, kind and parent of an area from `valid_from` (None: from before the recorded history)."""

    valid_from: date | None
    name: str
    kind: AreaKind
    parent: AreaKey | None
    legal_basis: str


@dataclass(frozen=True)
class Succession:
    """Where an area (or part of it) went on a date: whole=True means the area ceased into `codes`."""

    effective_date: date
    codes: tuple[str, ...]
    whole: bool
    legal_basis: str


@dataclass(frozen=True)
class AreaHistory:
    """Everything known about one area over time, oldest state first."""

    key: AreaKey
    established_on: date | None
    formed_from: tuple[str, ...]
    states: tuple[AreaState, ...]
    abolished_on: date | None
    successions: tuple[Succession, ...]

    def exists_on(self, on: date) -> bool:
        """Whether the area existed on the date (created on or before it, not yet abolished)."""
        if self.established_on is not None and on < self.established_on:
            return False
        return self.abolished_on is None or on < self.abolished_on

    def state_on(self, on: date) -> AreaState | None:
        """The area's name, kind and parent on the date, or None when it did not exist."""
        if not self.exists_on(on):
            return None
        current = self.states[0]
        for state in self.states[1:]:
            if state.valid_from is not None and state.valid_from <= on:
                current = state
        return current

    def change_dates(self) -> set[date]:
        """Every date on which something about this area changed."""
        dates = {s.valid_from for s in self.states if s.valid_from is not None}
        dates.update(s.effective_date for s in self.successions)
        if self.abolished_on is not None:
            dates.add(self.abolished_on)
        return dates

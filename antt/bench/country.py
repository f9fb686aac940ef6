"""A deterministic synthetic country at scale S over the official provinces and communes.

S = 1.0 is the national size of regulations.md §7: 34 provinces, 3,321 communes and 200,000
units. Every commune is itself a unit (xã/phường/đặc khu); the rest follow the national
proportions: ≈100,000 khu dân cư (98,455 thôn + tổ dân phố in 2020), enterprises in scope
≈37,500 (middle of 25,000–50,000), schools in scope ≈13,500 (middle of 12,000–15,000) and the
remainder agencies ("tens of thousands", unconfirmed). Area codes come only from the official
CSV files shipped with the registry; units are spread uniformly over the chosen communes.
"""

from __future__ import annotations

import collections
import csv
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "services" / "registry" / "reference"
NATIONAL_UNITS = 200_000
# Units per type at S = 1.0 besides the communes themselves; agencies take the remainder.
NATIONAL_SHARES: dict[str, int] = {"khu_dan_cu": 100_000, "doanh_nghiep": 37_500, "co_so_giao_duc": 13_500}
EFFECTIVE_DATE = "2026-01-01"


@dataclass(frozen=True)
class Commune:
    """An official commune-level unit (code, name, kind, province) from the reference CSV."""

    code: str
    name_vi: str
    kind: str
    province_code: str


@dataclass(frozen=True)
class SyntheticUnit:
    """One unit to register: code, Vietnamese name, type and location."""

    code: str
    name: str
    unit_type: str
    province_code: str
    commune_code: str
    size_class: str = ""  # doanh nghiệp: declared size (only medium and large ones are in scope)
    school_levels: tuple[str, ...] = ()  # cơ sở giáo dục: levels taught (in-scope levels only)


@dataclass
class Country:
    """The generated country: its communes, its units and the expected counts."""

    scale: float
    seed: int
    provinces: list[str]
    communes: list[Commune]
    units: list[SyntheticUnit] = field(default_factory=list)

    def per_province(self) -> dict[str, int]:
        """Expected units per province code."""
        return dict(sorted(collections.Counter(u.province_code for u in self.units).items()))

    def per_type(self) -> dict[str, int]:
        """Expected units per unit type."""
        return dict(sorted(collections.Counter(u.unit_type for u in self.units).items()))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def official_communes() -> list[Commune]:
    """The 3,321 communes in force since 01/7/2025, sorted by code."""
    with (REFERENCE_DIR / "communes_2025_all.csv").open(encoding="utf-8", newline="") as f:
        rows = [Commune(r["code"], _nfc(r["name_vi"]), r["kind"], r["province_code"]) for r in csv.DictReader(f)]
    return sorted(rows, key=lambda c: c.code)


def official_provinces() -> list[str]:
    """The 34 province codes in force since 2025."""
    with (REFERENCE_DIR / "provinces_2025.csv").open(encoding="utf-8", newline="") as f:
        return sorted(r["code"] for r in csv.DictReader(f))


def _choose_communes(rng: random.Random, communes: list[Commune], provinces: list[str], count: int) -> list[Commune]:
    """`count` communes with every province represented (one per province first, then at random)."""
    by_province: dict[str, list[Commune]] = collections.defaultdict(list)
    for c in communes:
        by_province[c.province_code].append(c)
    chosen: dict[str, Commune] = {}
    for p in provinces:
        pick = rng.choice(by_province[p])
        chosen[pick.code] = pick
    rest = [c for c in communes if c.code not in chosen]
    for c in rng.sample(rest, max(0, count - len(chosen))):
        chosen[c.code] = c
    return sorted(chosen.values(), key=lambda c: c.code)


def _name(unit_type: str, commune: Commune, n: int) -> str:
    if unit_type == "khu_dan_cu":
        return f"{'Tổ dân phố' if commune.kind == 'phuong' else 'Thôn'} {n}, {commune.name_vi}"
    if unit_type == "doanh_nghiep":
        return f"Công ty TNHH Thử nghiệm số {n}, {commune.name_vi}"
    if unit_type == "co_so_giao_duc":
        return f"Cơ sở giáo dục số {n}, {commune.name_vi}"
    return f"Cơ quan hành chính số {n}, {commune.name_vi}"


# In-scope facts (TT124 Đ1 k2 b): medium/large enterprises; lower/upper secondary and above.
SIZES = ("vua", "lon")
SIZE_WEIGHTS = (3, 2)
SCHOOL_LEVELS = (("thcs",), ("thpt",), ("thcs", "thpt"), ("giao_duc_thuong_xuyen",), ("giao_duc_nghe_nghiep",),
                 ("cao_dang",), ("dai_hoc",))
SCHOOL_WEIGHTS = (55, 20, 5, 6, 8, 3, 3)
_PREFIX = {"khu_dan_cu": "KDC", "doanh_nghiep": "DN", "co_so_giao_duc": "GD", "co_quan": "CQ"}


def generate(scale: float, seed: int = 2026) -> Country:
    """The country at `scale` (0 < S ≤ 1), the same for the same scale and seed."""
    if not 0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    rng = random.Random(f"antt-bench:{seed}:{scale}")
    provinces = official_provinces()
    all_communes = official_communes()
    communes = _choose_communes(rng, all_communes, provinces, max(len(provinces), round(len(all_communes) * scale)))
    total = max(round(NATIONAL_UNITS * scale), len(communes))
    counts = {t: round(n * scale) for t, n in NATIONAL_SHARES.items()}
    counts["co_quan"] = max(0, total - len(communes) - sum(counts.values()))
    country = Country(scale, seed, provinces, communes)
    for c in communes:
        country.units.append(SyntheticUnit(f"XP-{c.code}", c.name_vi, "xa_phuong", c.province_code, c.code))
    numbers: collections.Counter[tuple[str, str]] = collections.Counter()
    for unit_type, n in counts.items():
        for i in range(n):
            c = rng.choice(communes)
            numbers[(unit_type, c.code)] += 1
            k = numbers[(unit_type, c.code)]
            size = rng.choices(SIZES, SIZE_WEIGHTS)[0] if unit_type == "doanh_nghiep" else ""
            levels = rng.choices(SCHOOL_LEVELS, SCHOOL_WEIGHTS)[0] if unit_type == "co_so_giao_duc" else ()
            country.units.append(SyntheticUnit(f"{_PREFIX[unit_type]}-{c.code}-{k:05d}", _name(unit_type, c, k),
                                               unit_type, c.province_code, c.code, size, levels))
    rng.shuffle(country.units)  # registrations arrive in no particular order
    return country

"""Official codes of provinces and communes, loaded once from the shipped CSV files."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Area:
    """An official administrative unit: code, Vietnamese name, kind and parent province."""

    code: str
    name_vi: str
    kind: str
    province_code: str = ""


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=1)
def provinces() -> dict[str, Area]:
    """The 34 provinces in force since 2025, by code."""
    return {r["code"]: Area(r["code"], unicodedata.normalize("NFC", r["name_vi"]), r["kind"])
            for r in _rows("provinces_2025.csv")}


@lru_cache(maxsize=1)
def communes() -> dict[str, Area]:
    """The 3,321 commune-level units in force since 01/7/2025, by code."""
    return {r["code"]: Area(r["code"], unicodedata.normalize("NFC", r["name_vi"]), r["kind"], r["province_code"])
            for r in _rows("communes_2025_all.csv")}

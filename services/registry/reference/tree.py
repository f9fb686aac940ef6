"""Builds AdminArea aggregates from the shipped reference CSVs: 63 provinces, the 63 → 34 merger, 2025 communes.

No pre-2025 commune or district codes are shipped (reference README, note 9), so communes start on
01/7/2025 and are not linked to their predecessors; only provinces carry history across the merger.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Collection
from datetime import date
from pathlib import Path

from antt.actor import Actor
from services.registry.domain.admin_area import AdminArea, merge
from services.registry.domain.area_history import AreaKind, AreaLevel

HERE = Path(__file__).parent
# ISO 3166-1 code of Việt Nam; the statistical code lists have no code for the national level.
NATIONAL_CODE = "VN"
NATIONAL_NAME = "Toàn quốc (Bộ Công an)"
# NQ 202/2025/QH15 was adopted on 12/6/2025; the merged provinces operate from 01/7/2025 (reference README),
# the same day as the commune resolutions and the end of the district tier.
PROVINCE_MERGER_EFFECTIVE = date(2025, 7, 1)
PROVINCE_MERGER_BASIS = "NQ 202/2025/QH15; NQ 60-NQ/TW; mã số: CV 915/CTK-CSCL"
PRE2025_BASIS = "Danh mục ĐVHC của Cục Thống kê tại 01/03/2025"
# Huế: Tỉnh Thừa Thiên Huế became Thành phố Huế on 01/01/2025 (NQ 175/2024/QH15; reference README, note 9).
HUE_CODE, HUE_OLD_NAME, HUE_FROM, HUE_BASIS = "46", "Tỉnh Thừa Thiên Huế", date(2025, 1, 1), "NQ 175/2024/QH15"
# One UBTVQH resolution per 2025 province reorganised its communes (reference README table).
COMMUNE_RESOLUTIONS = {
    "01": "1656", "04": "1657", "08": "1684", "11": "1661", "12": "1670", "14": "1681", "15": "1673",
    "19": "1683", "20": "1672", "22": "1679", "24": "1658", "25": "1676", "31": "1669", "33": "1666",
    "37": "1674", "38": "1686", "40": "1678", "42": "1665", "44": "1680", "46": "1675", "48": "1659",
    "51": "1677", "52": "1664", "56": "1667", "66": "1660", "68": "1671", "75": "1662", "79": "1685",
    "80": "1682", "82": "1663", "86": "1687", "91": "1654", "92": "1668", "96": "1655",
}
# Old-style and new-style tone placement (Hoà/Hòa, Thuỵ/Thụy) name the same place.
_TONE_STYLE = {"oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa", "oè": "òe", "oé": "óe", "oẻ": "ỏe",
               "oẽ": "õe", "oẹ": "ọe", "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy"}


def name_key(name: str) -> str:
    """A comparison key that ignores case, Unicode form and tone-mark placement style."""
    text = unicodedata.normalize("NFC", name).casefold()
    for old, new in _TONE_STYLE.items():
        text = text.replace(old, new)
    return text


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as f:
        return [{k: unicodedata.normalize("NFC", v) for k, v in row.items()} for row in csv.DictReader(f)]


def commune_basis(province_code: str) -> str:
    """Legal basis of a 2025 commune: its province's UBTVQH resolution and the code list CV 1027."""
    return f"NQ {COMMUNE_RESOLUTIONS[province_code]}/NQ-UBTVQH15; mã số: CV 1027/CTK-CSCL"


def build_tree(actor: Actor, commune_provinces: Collection[str] | None = None) -> list[AdminArea]:
    """National level, 63 pre-2025 provinces merged into 34 on 01/7/2025, and the 2025 communes.

    `commune_provinces` limits the communes to those of some 2025 provinces (all when None).
    """
    national = AdminArea.establish(AreaLevel.NATIONAL, NATIONAL_CODE, NATIONAL_NAME, AreaKind.TOAN_QUOC, None,
                                   None, "Hiến pháp 2013", actor)
    provinces: dict[str, AdminArea] = {}
    for row in _rows("provinces_pre2025.csv"):
        code, name, kind = row["code"], row["name_vi"], AreaKind(row["kind"])
        if code == HUE_CODE:
            area = AdminArea.establish(AreaLevel.PROVINCE, code, HUE_OLD_NAME, AreaKind.TINH, national, None,
                                       PRE2025_BASIS, actor)
            area.rename(name, HUE_FROM, HUE_BASIS, actor, kind=kind)
        else:
            area = AdminArea.establish(AreaLevel.PROVINCE, code, name, kind, national, None, PRE2025_BASIS, actor)
        provinces[code] = area
    for row in _rows("provinces_2025.csv"):
        code, target = row["code"], provinces[row["code"]]
        sources = [provinces[c] for c in row["merged_from_codes"].split(";") if c != code]
        if sources:
            merge(sources, target, PROVINCE_MERGER_EFFECTIVE, PROVINCE_MERGER_BASIS, actor)
        kind = AreaKind(row["kind"])
        if name_key(row["name_vi"]) != name_key(target.current.name) or kind is not target.current.kind:
            target.rename(row["name_vi"], PROVINCE_MERGER_EFFECTIVE, PROVINCE_MERGER_BASIS, actor, kind=kind)
    communes = [
        AdminArea.establish(AreaLevel.COMMUNE, row["code"], row["name_vi"], AreaKind(row["kind"]),
                            provinces[row["province_code"]], PROVINCE_MERGER_EFFECTIVE,
                            commune_basis(row["province_code"]), actor)
        for row in _rows("communes_2025_all.csv")
        if commune_provinces is None or row["province_code"] in commune_provinces
    ]
    return [national, *provinces.values(), *communes]

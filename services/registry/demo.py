"""A small synthetic demo data set in the four places our source plans come from.

Communes are official (reference CSVs); unit names and codes are synthetic and say so ("DEMO-").
"""

from __future__ import annotations

from dataclasses import dataclass

from services.registry import reference

# (province, commune): đặc khu Bạch Long Vĩ, phường Long Biên, communes of Lâm Đồng and Nghệ An.
DEMO_COMMUNES: tuple[tuple[str, str], ...] = (
    ("31", "11948"), ("01", "00145"), ("68", "24781"), ("68", "24787"), ("40", "17329"), ("40", "17380"),
)
# Per commune: khu dân cư (thôn / tổ dân phố), then one each of the other types.
PER_COMMUNE = (("khu_dan_cu", "Tổ dân phố số {n}"), ("khu_dan_cu", "Thôn {n}"), ("khu_dan_cu", "Khu dân cư {n}"),
               ("co_quan", "Trạm Y tế {commune}"), ("doanh_nghiep", "Công ty TNHH Minh Phát {n}"),
               ("co_so_giao_duc", "Trường THCS {commune}"))


@dataclass(frozen=True)
class DemoUnit:
    """One synthetic unit to register."""

    code: str
    name: str
    unit_type: str
    province_code: str
    commune_code: str


def demo_units() -> list[DemoUnit]:
    """The demo units, deterministic."""
    communes = reference.communes()
    units = []
    for province, commune in DEMO_COMMUNES:
        commune_name = communes[commune].name_vi.split(" ", 1)[1]
        for n, (unit_type, pattern) in enumerate(PER_COMMUNE, start=1):
            units.append(DemoUnit(f"DEMO-{commune}-{n:02d}", pattern.format(n=n, commune=commune_name),
                                  unit_type, province, commune))
    return units

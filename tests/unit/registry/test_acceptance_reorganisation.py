"""Acceptance: a unit registered in 2024 follows the 2025 reorganisation without being re-registered.

The 2025 side is official: phường Thành Đông (10507, Thành phố Hải Phòng 31) was formed by NQ 1669/NQ-UBTVQH15
Điều 1 khoản 28 from "các phường Cẩm Thượng, Bình Hàn, Nguyễn Trãi và xã An Thượng" (communes_sample.csv), and
Tỉnh Hải Dương (30) merged into Hải Phòng (31) from 01/7/2025. The pre-2025 side is SYNTHETIC: the old commune
and district codes are not shipped, so the old communes and their district get "TEST-" codes here (their names
come from the resolution text).
"""

from __future__ import annotations

from datetime import date

import pytest

from antt.errors import ErrorKind
from services.registry.application import Registry

from .conftest import JULY_2025, JUNE_2025, MERGER, OFFICER
from .test_registry_areas import refused

pytestmark = pytest.mark.unit

NQ_1669 = "NQ 1669/NQ-UBTVQH15 Điều 1 khoản 28"
SYNTHETIC = "dữ liệu thử (mã tổng hợp) / synthetic test data"
OLD_COMMUNES = {"TEST-CAM-THUONG": ("Phường Cẩm Thượng", "phuong"), "TEST-BINH-HAN": ("Phường Bình Hàn", "phuong"),
                "TEST-NGUYEN-TRAI": ("Phường Nguyễn Trãi", "phuong"), "TEST-AN-THUONG": ("Xã An Thượng", "xa")}


@pytest.fixture
def reorganised(tree_app: Registry) -> Registry:
    """The reference tree plus a synthetic pre-2025 district of Hải Dương with the four old communes."""
    app = tree_app
    app.create_area("district", "TEST-HD", "Thành phố Hải Dương", "thanh_pho", "30", None, SYNTHETIC, OFFICER)
    for code, (name, kind) in OLD_COMMUNES.items():
        app.create_area("commune", code, name, kind, "TEST-HD", None, SYNTHETIC, OFFICER, parent_level="district")
    return app


def reorganise(app: Registry) -> None:
    """01/7/2025: the four old communes merge into phường Thành Đông; the district tier ends."""
    app.merge_areas("commune", list(OLD_COMMUNES), "10507", MERGER, NQ_1669, OFFICER)
    app.abolish_area("district", "TEST-HD", MERGER, SYNTHETIC, OFFICER)


def test_a_2024_unit_is_listed_under_the_old_areas_in_june_and_the_merged_ones_in_july(reorganised: Registry) -> None:
    app = reorganised
    unit = app.register_unit("DEMO-KDC-1", "Khu dân cư số 1", "khu_dan_cu", "30", "TEST-CAM-THUONG", OFFICER,
                             date(2024, 3, 1))
    reorganise(app)  # recorded after the registration; the unit itself is not touched

    june = app.list_units(JUNE_2025, province_code="30")
    assert [(v.unit.code, v.place.commune_code, v.place.province_code) for v in june] == \
        [("DEMO-KDC-1", "TEST-CAM-THUONG", "30")]
    assert app.list_units(JUNE_2025, province_code="31") == []

    july = app.list_units(JULY_2025, province_code="31")
    assert [(v.unit.code, v.place.commune_code, v.place.province_code) for v in july] == \
        [("DEMO-KDC-1", "10507", "31")]
    assert app.list_units(JULY_2025, commune_code="10507")[0].place.exact
    assert app.list_units(JULY_2025, province_code="30") == []

    # Not re-registered: the unit's own history has one event; its places over time show both.
    assert [h.event for h in app.unit_history(unit.id)] == ["Registered"]
    places = [(p.on, p.commune_code, p.province_code) for p in app.unit_places(unit.id)]
    assert places == [(date(2024, 3, 1), "TEST-CAM-THUONG", "30"), (MERGER, "10507", "31")]


def test_the_tree_on_a_date_shows_the_district_tier_only_before_the_reform(reorganised: Registry) -> None:
    reorganise(reorganised)
    june = {n.key.code: n for n in reorganised.tree_as_of(JUNE_2025)}
    july = {n.key.code: n for n in reorganised.tree_as_of(JULY_2025)}
    assert june["TEST-CAM-THUONG"].parent.code == "TEST-HD" and "10507" not in june  # type: ignore[union-attr]
    assert "TEST-HD" not in july and "TEST-CAM-THUONG" not in july and "30" not in july
    assert july["10507"].parent.code == "31"  # type: ignore[union-attr]
    assert reorganised.resolve_old_code("commune", "TEST-AN-THUONG", JULY_2025).codes == ("10507",)


def test_registering_in_an_area_not_in_force_on_the_date_is_refused(reorganised: Registry) -> None:
    reorganise(reorganised)
    refused(reorganised, lambda: reorganised.register_unit("DEMO-2", "Thôn 2", "khu_dan_cu", "31", "10507", OFFICER,
                                                           JUNE_2025), "AREA_NOT_IN_FORCE",
            ErrorKind.FAILED_PRECONDITION)
    refused(reorganised, lambda: reorganised.register_unit("DEMO-3", "Thôn 3", "khu_dan_cu", "30", "TEST-BINH-HAN",
                                                           OFFICER, JULY_2025), "AREA_NOT_IN_FORCE",
            ErrorKind.FAILED_PRECONDITION)
    refused(reorganised, lambda: reorganised.register_unit("DEMO-4", "Thôn 4", "khu_dan_cu", "31", "TEST-BINH-HAN",
                                                           OFFICER, JUNE_2025), "UNKNOWN_AREA", ErrorKind.NOT_FOUND)
    moved = reorganised.register_unit("DEMO-5", "Thôn 5", "khu_dan_cu", "30", "TEST-BINH-HAN", OFFICER, JUNE_2025)
    refused(reorganised, lambda: reorganised.move_unit(moved.id, "30", "TEST-AN-THUONG", JULY_2025, OFFICER),
            "AREA_NOT_IN_FORCE", ErrorKind.FAILED_PRECONDITION)

"""AdminArea: effective-dated reorganisation rules, each violation with its reason code.

Codes starting with "TEST-" are synthetic: no pre-2025 commune or district codes are shipped.
"""

from __future__ import annotations

from datetime import date

import pytest

from antt.errors import ErrorKind
from services.registry.domain.admin_area import AdminArea, merge, split
from services.registry.domain.area_history import AreaKey, AreaKind, AreaLevel
from services.registry.domain.errors import AreaRuleError, InvalidAreaFieldError

from .conftest import OFFICER

pytestmark = pytest.mark.unit

BASIS = "test basis (synthetic)"


def national() -> AdminArea:
    return AdminArea.establish(AreaLevel.NATIONAL, "VN", "Toàn quốc", AreaKind.TOAN_QUOC, None, None, BASIS, OFFICER)


def province(code: str = "30", parent: AdminArea | None = None) -> AdminArea:
    return AdminArea.establish(AreaLevel.PROVINCE, code, f"Tỉnh {code}", AreaKind.TINH, parent or national(), None,
                               BASIS, OFFICER)


def commune(code: str, parent: AdminArea, on: date | None = None, kind: AreaKind = AreaKind.XA) -> AdminArea:
    return AdminArea.establish(AreaLevel.COMMUNE, code, f"Xã {code}", kind, parent, on, BASIS, OFFICER)


def test_id_is_derived_from_level_and_code() -> None:
    p = province("30")
    assert p.id == AdminArea.create_id(AreaLevel.PROVINCE, "30")
    assert p.id != AdminArea.create_id(AreaLevel.COMMUNE, "30")


def test_rename_is_effective_dated_and_keeps_the_earlier_name() -> None:
    p = province("15")
    p.rename("Tỉnh Lào Cai", date(2025, 7, 1), "NQ 202/2025/QH15", OFFICER)
    history = p.history()
    assert history.state_on(date(2025, 6, 30)).name == "Tỉnh 15"  # type: ignore[union-attr]
    assert history.state_on(date(2025, 7, 1)).name == "Tỉnh Lào Cai"  # type: ignore[union-attr]


def test_change_dated_before_the_area_existed_is_refused() -> None:
    c = commune("TEST-C1", province(), on=date(2025, 7, 1))
    with pytest.raises(AreaRuleError) as err:
        c.rename("Xã Mới", date(2025, 6, 30), BASIS, OFFICER)
    assert err.value.reason == "EFFECTIVE_DATE_BEFORE_AREA_EXISTED"
    assert err.value.kind is ErrorKind.FAILED_PRECONDITION
    assert err.value.message_vi and err.value.message_en


def test_change_dated_before_the_last_change_is_refused() -> None:
    p = province()
    p.rename("Tỉnh A", date(2025, 3, 1), BASIS, OFFICER)
    with pytest.raises(AreaRuleError) as err:
        p.rename("Tỉnh B", date(2025, 2, 1), BASIS, OFFICER)
    assert err.value.reason == "EFFECTIVE_DATE_BEFORE_LAST_CHANGE"


def test_merging_an_area_into_itself_is_refused() -> None:
    p = province("30")
    with pytest.raises(AreaRuleError) as err:
        merge([p], p, date(2025, 7, 1), BASIS, OFFICER)
    assert err.value.reason == "AREA_MERGED_INTO_ITSELF"
    assert p.abolished_on is None and not p.pending_events[1:]


def test_merge_abolishes_the_sources_into_the_target() -> None:
    vn = national()
    a, b, target = province("30", vn), province("29", vn), province("31", vn)
    merge([a, b], target, date(2025, 7, 1), "NQ 202/2025/QH15", OFFICER)
    assert a.abolished_on == b.abolished_on == date(2025, 7, 1)
    assert a.history().successions[0].codes == ("31",)
    assert target.formed_from == ["30", "29"]
    assert a.history().exists_on(date(2025, 6, 30)) and not a.history().exists_on(date(2025, 7, 1))


def test_acting_on_an_abolished_area_is_refused() -> None:
    vn = national()
    a, target = province("30", vn), province("31", vn)
    merge([a], target, date(2025, 7, 1), BASIS, OFFICER)
    for act in (lambda: a.rename("Tỉnh X", date(2025, 8, 1), BASIS, OFFICER),
                lambda: a.abolish(date(2025, 8, 1), BASIS, OFFICER),
                lambda: merge([province("29", vn)], a, date(2025, 8, 1), BASIS, OFFICER)):
        with pytest.raises(AreaRuleError) as err:
            act()
        assert err.value.reason == "AREA_ABOLISHED"


def test_split_into_parts_ends_the_source_unless_it_continues() -> None:
    p = province()
    source = commune("TEST-C1", p)
    parts = [commune("TEST-C2", p, date(2024, 1, 1)), commune("TEST-C3", p, date(2024, 1, 1))]
    split(source, parts, date(2024, 1, 1), BASIS, OFFICER)
    assert source.abolished_on == date(2024, 1, 1)
    assert source.history().successions[0].codes == ("TEST-C2", "TEST-C3")
    keeper = commune("TEST-C4", p)
    split(keeper, [commune("TEST-C5", p, date(2024, 1, 1))], date(2024, 1, 1), BASIS, OFFICER, continues=True)
    assert keeper.abolished_on is None


def test_split_needs_two_parts_and_not_itself() -> None:
    p = province()
    source = commune("TEST-C1", p)
    with pytest.raises(InvalidAreaFieldError) as err:
        split(source, [commune("TEST-C2", p)], date(2024, 1, 1), BASIS, OFFICER)
    assert err.value.reason == "INVALID_AREA_FIELD" and err.value.field == "target_codes"
    with pytest.raises(AreaRuleError) as rule:
        split(source, [source, commune("TEST-C3", p)], date(2024, 1, 1), BASIS, OFFICER)
    assert rule.value.reason == "AREA_MERGED_INTO_ITSELF"


def test_merge_across_levels_is_refused() -> None:
    p = province()
    with pytest.raises(InvalidAreaFieldError) as err:
        merge([commune("TEST-C1", p)], p, date(2025, 7, 1), BASIS, OFFICER)
    assert err.value.reason == "INVALID_AREA_FIELD"


def test_reparent_changes_the_parent_from_its_date() -> None:
    vn = national()
    p30, p31 = province("30", vn), province("31", vn)
    c = commune("TEST-C1", p30)
    c.reparent(p31, date(2025, 7, 1), BASIS, OFFICER)
    before, after = c.history().state_on(date(2025, 6, 30)), c.history().state_on(date(2025, 7, 1))
    assert before is not None and before.parent == AreaKey(AreaLevel.PROVINCE, "30")
    assert after is not None and after.parent == AreaKey(AreaLevel.PROVINCE, "31")


def test_districts_and_thi_tran_exist_only_before_the_two_tier_reform() -> None:
    p = province()
    with pytest.raises(AreaRuleError) as err:
        AdminArea.establish(AreaLevel.DISTRICT, "TEST-D1", "Huyện Thử", AreaKind.HUYEN, p, date(2025, 7, 1), BASIS,
                            OFFICER)
    assert err.value.reason == "HISTORY_ONLY_BEFORE_2025_07_01"
    with pytest.raises(AreaRuleError) as err:
        commune("TEST-C1", p, date(2025, 8, 1), kind=AreaKind.THI_TRAN)
    assert err.value.reason == "HISTORY_ONLY_BEFORE_2025_07_01"
    district = AdminArea.establish(AreaLevel.DISTRICT, "TEST-D1", "Huyện Thử", AreaKind.HUYEN, p, None, BASIS, OFFICER)
    c = commune("TEST-C2", p)
    with pytest.raises(AreaRuleError) as err:
        c.reparent(district, date(2025, 7, 2), BASIS, OFFICER)
    assert err.value.reason == "HISTORY_ONLY_BEFORE_2025_07_01"


@pytest.mark.parametrize(("name", "kind", "parent_level", "field"), [
    ("", AreaKind.XA, AreaLevel.PROVINCE, "name"),
    ("Xã\x07Chuông", AreaKind.XA, AreaLevel.PROVINCE, "name"),
    ("X" * 201, AreaKind.XA, AreaLevel.PROVINCE, "name"),
    ("Xã Đúng", AreaKind.TINH, AreaLevel.PROVINCE, "kind"),
    ("Xã Đúng", AreaKind.XA, AreaLevel.NATIONAL, "parent_code"),
])
def test_bad_fields_are_invalid_arguments_naming_the_field(name: str, kind: AreaKind, parent_level: AreaLevel,
                                                           field: str) -> None:
    parent = national() if parent_level is AreaLevel.NATIONAL else province()
    with pytest.raises(InvalidAreaFieldError) as err:
        AdminArea.establish(AreaLevel.COMMUNE, "TEST-C1", name, kind, parent, None, BASIS, OFFICER)
    assert err.value.field == field and err.value.kind is ErrorKind.INVALID_ARGUMENT


def test_name_is_nfc_normalised() -> None:
    decomposed = "Xa\u0303 Ho\u0300a"  # "Xã Hòa" with combining marks
    c = AdminArea.establish(AreaLevel.COMMUNE, "TEST-C1", decomposed, AreaKind.XA, province(), None, BASIS, OFFICER)
    assert c.current.name == "Xã Hòa"

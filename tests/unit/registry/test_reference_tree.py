"""The reference tree: 63 provinces before 01/7/2025, 34 after, and all 3,321 communes from that date."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from antt.actor import SYSTEM
from services.registry.application import Registry
from services.registry.domain import crosswalk
from services.registry.domain.area_history import AreaHistory, AreaKey, AreaKind, AreaLevel
from services.registry.domain.errors import AreaAlreadyExistsError
from services.registry.reference.tree import PROVINCE_MERGER_EFFECTIVE, build_tree, name_key

pytestmark = pytest.mark.unit

JUNE, JULY = date(2025, 6, 30), date(2025, 7, 1)
Histories = dict[AreaKey, AreaHistory]


@pytest.fixture(scope="module")
def histories() -> Histories:
    return crosswalk.index(a.history() for a in build_tree(SYSTEM))


def levels_on(histories: Histories, on: date) -> Counter[AreaLevel]:
    return Counter(n.key.level for n in crosswalk.tree_as_of(histories.values(), on))


def test_the_merger_takes_effect_on_1_july_2025() -> None:
    assert PROVINCE_MERGER_EFFECTIVE == date(2025, 7, 1)


def test_63_provinces_before_and_34_provinces_and_3321_communes_after(histories: Histories) -> None:
    assert levels_on(histories, JUNE) == Counter({AreaLevel.NATIONAL: 1, AreaLevel.PROVINCE: 63})
    assert levels_on(histories, JULY) == Counter({AreaLevel.NATIONAL: 1, AreaLevel.PROVINCE: 34,
                                                  AreaLevel.COMMUNE: 3321})
    kinds = Counter(n.kind for n in crosswalk.tree_as_of(histories.values(), JULY) if n.key.level is AreaLevel.COMMUNE)
    assert kinds == Counter({AreaKind.XA: 2621, AreaKind.PHUONG: 687, AreaKind.DAC_KHU: 13})


@pytest.mark.parametrize(("old", "new"), [("10", "15"), ("27", "24"), ("30", "31"), ("93", "92"), ("01", "01")])
def test_every_old_province_resolves_to_its_merged_province(histories: Histories, old: str, new: str) -> None:
    key = AreaKey(AreaLevel.PROVINCE, old)
    assert crosswalk.resolve(histories, key, JUNE).codes == (old,)
    res = crosswalk.resolve(histories, key, JULY)
    assert res.codes == (new,) and res.exact


def test_a_merged_province_keeps_the_code_of_its_seat_and_takes_its_new_name(histories: Histories) -> None:
    lao_cai = histories[AreaKey(AreaLevel.PROVINCE, "15")]
    assert lao_cai.state_on(JUNE).name == "Tỉnh Yên Bái"
    assert lao_cai.state_on(JULY).name == "Tỉnh Lào Cai"
    assert lao_cai.formed_from == ("10",)


def test_hue_became_a_city_on_1_january_2025(histories: Histories) -> None:
    hue = histories[AreaKey(AreaLevel.PROVINCE, "46")]
    assert hue.state_on(date(2024, 12, 31)).name == "Tỉnh Thừa Thiên Huế"
    assert hue.state_on(date(2025, 1, 1)).kind is AreaKind.THANH_PHO


def test_the_places_of_our_source_plans_are_in_the_tree(histories: Histories) -> None:
    for code, province in (("11948", "31"), ("00145", "01")):
        key = AreaKey(AreaLevel.COMMUNE, code)
        assert crosswalk.ancestor_as_of(histories, key, JULY, AreaLevel.PROVINCE) == AreaKey(AreaLevel.PROVINCE,
                                                                                               province)
    assert histories[AreaKey(AreaLevel.COMMUNE, "11948")].state_on(JULY).kind is AreaKind.DAC_KHU


def test_names_differing_only_in_tone_mark_style_are_the_same() -> None:
    assert name_key("Tỉnh Hoà Bình") == name_key("Tỉnh Hòa Bình")
    assert name_key("Xã Thuỵ An") == name_key("Xã Thụy An")
    assert name_key("Tỉnh Hà Nam") != name_key("Tỉnh Nam Định")


def test_loading_the_tree_writes_hash_chained_events_and_cannot_be_repeated() -> None:
    app = Registry()
    assert app.load_reference_tree(SYSTEM, commune_provinces={"31"}) == 1 + 63 + 114
    assert app.verify_chains() == []
    with pytest.raises(AreaAlreadyExistsError) as err:
        app.load_reference_tree(SYSTEM, commune_provinces={"31"})
    assert err.value.reason == "AREA_ALREADY_EXISTS"

"""Crosswalk: the tree on a date and where an old code went (pure functions over histories).

Codes starting with "TEST-" are synthetic: no pre-2025 commune codes are shipped.
"""

from __future__ import annotations

from datetime import date

import pytest

from services.registry.domain import crosswalk
from services.registry.domain.admin_area import AdminArea, merge, split
from services.registry.domain.area_history import AreaHistory, AreaKey, AreaKind, AreaLevel

from .test_admin_area import BASIS, OFFICER, commune, national, province

pytestmark = pytest.mark.unit

BEFORE, REFORM, AFTER = date(2025, 6, 30), date(2025, 7, 1), date(2025, 7, 2)


def histories(*areas: AdminArea) -> dict[AreaKey, AreaHistory]:
    return crosswalk.index(a.history() for a in areas)


def C(code: str) -> AreaKey:  # noqa: N802
    return AreaKey(AreaLevel.COMMUNE, code)


def test_tree_as_of_lists_the_areas_in_force_with_their_parents_then() -> None:
    vn = national()
    p30, p31 = province("30", vn), province("31", vn)
    old = commune("TEST-OLD", p30)
    new = commune("TEST-NEW", p31, REFORM)
    merge([p30], p31, REFORM, BASIS, OFFICER)
    merge([old], new, REFORM, BASIS, OFFICER)
    h = histories(vn, p30, p31, old, new)
    before = [(n.key.code, n.parent.code if n.parent else "") for n in crosswalk.tree_as_of(h.values(), BEFORE)]
    after = [(n.key.code, n.parent.code if n.parent else "") for n in crosswalk.tree_as_of(h.values(), AFTER)]
    assert before == [("VN", ""), ("30", "VN"), ("31", "VN"), ("TEST-OLD", "30")]
    assert after == [("VN", ""), ("31", "VN"), ("TEST-NEW", "31")]
    assert [n.key.code for n in crosswalk.children_as_of(h.values(), AreaKey(AreaLevel.PROVINCE, "30"), BEFORE)] \
        == ["TEST-OLD"]


def test_resolve_follows_merges_only_once_they_are_effective() -> None:
    p = province()
    a, b, c = commune("TEST-A", p), commune("TEST-B", p, date(2024, 1, 1)), commune("TEST-C", p, REFORM)
    merge([a], b, date(2024, 1, 1), BASIS, OFFICER)
    merge([b], c, REFORM, BASIS, OFFICER)
    h = histories(p, a, b, c)
    assert crosswalk.resolve(h, C("TEST-A"), date(2023, 12, 31)).codes == ("TEST-A",)
    assert crosswalk.resolve(h, C("TEST-A"), BEFORE).codes == ("TEST-B",)
    res = crosswalk.resolve(h, C("TEST-A"), AFTER)
    assert res.codes == ("TEST-C",) and res.exact


def test_resolve_of_a_split_area_lists_every_part_and_is_not_exact() -> None:
    p = province()
    src, x, y = commune("TEST-S", p), commune("TEST-X", p, REFORM), commune("TEST-Y", p, REFORM)
    split(src, [x, y], REFORM, BASIS, OFFICER)
    res = crosswalk.resolve(histories(p, src, x, y), C("TEST-S"), AFTER)
    assert res.codes == ("TEST-X", "TEST-Y") and not res.exact


def test_resolve_when_only_part_of_an_area_went_elsewhere_is_not_exact() -> None:
    p = province()
    src, x = commune("TEST-S", p), commune("TEST-X", p, REFORM)
    split(src, [x], REFORM, BASIS, OFFICER, continues=True)
    res = crosswalk.resolve(histories(p, src, x), C("TEST-S"), AFTER)
    assert res.codes == ("TEST-S", "TEST-X") and not res.exact


def test_resolve_of_an_area_abolished_without_successor_or_not_yet_created_is_empty() -> None:
    p = province()
    gone, later = commune("TEST-G", p), commune("TEST-L", p, REFORM)
    gone.abolish(REFORM, BASIS, OFFICER)
    h = histories(p, gone, later)
    assert crosswalk.resolve(h, C("TEST-G"), AFTER).codes == ()
    assert crosswalk.resolve(h, C("TEST-L"), BEFORE).codes == ()
    assert crosswalk.resolve(h, C("TEST-UNKNOWN"), AFTER).codes == ()


def test_ancestor_walks_through_the_district_tier_as_it_stood_on_the_date() -> None:
    vn = national()
    p = province("30", vn)
    district = AdminArea.establish(AreaLevel.DISTRICT, "TEST-D", "Thành phố Thử", AreaKind.THANH_PHO, p,
                                   None, BASIS, OFFICER)
    c = commune("TEST-C", district)
    h = histories(vn, p, district, c)
    assert crosswalk.ancestor_as_of(h, C("TEST-C"), BEFORE, AreaLevel.PROVINCE) == AreaKey(AreaLevel.PROVINCE, "30")
    assert crosswalk.ancestor_as_of(h, C("TEST-C"), BEFORE, AreaLevel.DISTRICT) == district.key

"""Rollups per commune, province and nationally match an independent count of the same scenario."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from services.reporting import projections, queries
from tests.unit.reporting.builders import World

pytestmark = pytest.mark.unit

Y = 2025
HN, HP = "01", "31"
# (unit, type, province, commune, registered, decided: None | True | False, revoked, level)
PLAN: list[tuple[str, str, str, str, bool, bool | None, bool, str]] = [
    ("a1", "khu_dan_cu", HN, "00004", True, True, False, "xuat_sac"),
    ("a2", "khu_dan_cu", HN, "00004", True, True, False, "kha"),
    ("a3", "co_quan", HN, "00004", True, False, False, "trung_binh"),
    ("a4", "doanh_nghiep", HN, "00008", True, True, True, "kha"),
    ("a5", "khu_dan_cu", HN, "00008", False, None, False, ""),
    ("b1", "khu_dan_cu", HP, "11560", True, True, False, "kha"),
    ("b2", "co_so_giao_duc", HP, "11560", True, True, False, "yeu"),
    ("b3", "khu_dan_cu", HP, "11557", True, None, False, ""),
]


def build(world: World) -> None:
    """The plan, plus a unit moved mid-year, one closed mid-year, one out of scope, one closed the year before."""
    for uid, kind, p, c, registered, decided, revoked, level in PLAN:
        world.unit(uid, kind, p, c, date(2020, 1, 1))
        if registered:
            world.register(uid, Y, (p, c), date(Y, 1, 20), late=uid == "a2")
        if decided is not None:
            world.decide(uid, Y, (p, c), decided, date(Y, 11, 14), late=uid == "b1")
        if revoked:
            world.revoke(uid, Y, (p, c), date(Y, 12, 1))
        if level:
            world.classify(uid, Y, (p, c), level, date(Y, 11, 25))
    # moved from 00004 to 00008 in June: counts once, in 00008
    world.unit("m1", "khu_dan_cu", HN, "00004", date(2021, 3, 1))
    world.register("m1", Y, (HN, "00004"), date(Y, 1, 10))
    world.move("m1", (HN, "00004"), (HN, "00008"), date(Y, 6, 1))
    world.decide("m1", Y, (HN, "00008"), True, date(Y, 11, 10))
    world.classify("m1", Y, (HN, "00008"), "kha", date(Y, 11, 20))
    # moved between provinces in 2026: counts in Hải Phòng's 11557 for 2025
    world.unit("m2", "co_quan", HP, "11557", date(2021, 3, 1))
    world.register("m2", Y, (HP, "11557"), date(Y, 1, 10))
    world.move("m2", (HP, "11557"), (HN, "00004"), date(2026, 2, 1))
    # closed in August: existed that year, counted once, where it was
    world.unit("c1", "doanh_nghiep", HP, "11560", date(2019, 5, 5))
    world.register("c1", Y, (HP, "11560"), date(Y, 1, 15))
    world.close("c1", (HP, "11560"), date(Y, 8, 1))
    # closed before the year: not expected
    world.unit("c0", "khu_dan_cu", HP, "11560", date(2019, 5, 5))
    world.close("c0", (HP, "11560"), date(Y - 1, 7, 1))
    # out of scope (small enterprise): not expected
    world.unit("x1", "doanh_nghiep", HN, "00004", date(2019, 5, 5), eligible=False)
    # opened the next year: not expected
    world.unit("n1", "khu_dan_cu", HN, "00004", date(Y + 1, 2, 1))


def expected_places() -> dict[str, tuple[str, str, str]]:
    """Independent answer: where each expected unit counts, and its type."""
    places = {uid: (p, c, kind) for uid, kind, p, c, *_ in PLAN}
    places.update(m1=(HN, "00008", "khu_dan_cu"), m2=(HP, "11557", "co_quan"), c1=(HP, "11560", "doanh_nghiep"))
    return places


def independent(select: Callable[[str, str], bool]) -> dict[str, Any]:
    """Count the plan by hand for the units whose place passes `select`."""
    places = expected_places()
    plan = {uid: (registered, decided, revoked, level) for uid, _, _, _, registered, decided, revoked, level in PLAN}
    plan.update(m1=(True, True, False, "kha"), m2=(True, None, False, ""), c1=(True, None, False, ""))
    chosen = [u for u, (p, c, _) in places.items() if select(p, c)]
    levels = Counter(plan[u][3] for u in chosen if plan[u][3])
    return {
        "in_scope": len(chosen),
        "registered": sum(plan[u][0] for u in chosen),
        "registered_on_time": sum(plan[u][0] and u != "a2" for u in chosen),
        "decided": sum(plan[u][1] is not None for u in chosen),
        "decided_on_time": sum(plan[u][1] is not None and u != "b1" for u in chosen),
        "recognised": sum(plan[u][1] is True and not plan[u][2] for u in chosen),
        "not_recognised": sum(plan[u][1] is False for u in chosen),
        "revoked": sum(plan[u][2] for u in chosen),
        "classified": sum(levels.values()),
        "levels": {lv: levels.get(lv, 0) for lv in ("kha", "trung_binh", "xuat_sac", "yeu")},
        "award": sorted(f"C-{u}" for u in chosen
                        if plan[u][1] is True and not plan[u][2] and plan[u][3] in ("xuat_sac", "kha")),
    }


def counts(figures: dict[str, Any]) -> dict[str, Any]:
    keys = ("in_scope", "registered", "registered_on_time", "decided", "decided_on_time", "recognised",
            "not_recognised", "revoked", "classified", "levels")
    return {k: figures[k] for k in keys}


@pytest.fixture
def loaded(store: Engine, feed: Callable[[World], None]) -> Engine:
    world = World()
    build(world)
    feed(world)
    return store


def report(engine: Engine, scope: str) -> Any:
    with engine.connect() as conn:
        return queries.report(conn, Y, scope, today=date(2026, 11, 22))


def test_national_province_and_commune_rollups_match_an_independent_count(loaded: Engine) -> None:
    national = report(loaded, "national")
    want = independent(lambda p, c: True)
    assert counts(national.area.total.as_dict()) == {k: v for k, v in want.items() if k != "award"}
    assert [a["unit_code"] for a in national.award_eligible] == want["award"]
    assert {s.code for s in national.sub_areas} == {HN, HP}
    for sub in national.sub_areas:
        assert counts(sub.total.as_dict()) == {k: v for k, v in
                                               independent(lambda p, c, s=sub.code: p == s).items() if k != "award"}
    for province, communes in ((HN, ("00004", "00008")), (HP, ("11560", "11557"))):
        prov = report(loaded, f"province:{province}")
        assert counts(prov.area.total.as_dict()) == counts({**independent(lambda p, c: p == province), "levels":
                                                            independent(lambda p, c: p == province)["levels"]})
        assert sorted(s.code for s in prov.sub_areas) == sorted(communes)
        for commune in communes:
            direct = report(loaded, f"commune:{commune}")
            want_c = {k: v for k, v in independent(lambda p, c: c == commune).items() if k != "award"}
            assert counts(direct.area.total.as_dict()) == want_c
            assert counts(next(s for s in prov.sub_areas if s.code == commune).total.as_dict()) == want_c


def test_moved_and_closed_units_count_once_in_the_right_place_and_no_rate_exceeds_100(loaded: Engine) -> None:
    national = report(loaded, "national")
    assert national.area.total.in_scope == len(expected_places())  # c0, x1, n1 are not expected
    hn_00004 = report(loaded, "commune:00004").area.total
    hn_00008 = report(loaded, "commune:00008").area.total
    hp_11560 = report(loaded, "commune:11560").area.total
    assert (hn_00004.in_scope, hn_00008.in_scope, hp_11560.in_scope) == (3, 3, 3)  # m1 in 00008, c1 in 11560
    assert report(loaded, "commune:11557").area.total.in_scope == 2  # m2 moved away only in 2026
    for rep in [national, *[report(loaded, f"province:{p}") for p in (HN, HP)]]:
        for figures in [rep.area.total, *(s.total for s in rep.sub_areas), *rep.area.by_type.values()]:
            for rate in (figures.pct_recognised, figures.pct_kha_or_above, figures.completeness_pct,
                         figures.registration_timeliness_pct, figures.decision_timeliness_pct):
                assert rate is None or 0 <= rate <= 100


def test_rates_and_targets_come_from_the_counts_and_the_target_data(loaded: Engine) -> None:
    hn = report(loaded, "province:01")
    t = hn.area.total
    assert t.pct_recognised == round(100 * t.recognised / t.in_scope, 2)
    assert hn.targets.recognition.label() == "≥ 70%" and hn.targets.kha_or_above.label() == "> 75%"
    assert hn.meets_recognition_target is (t.pct_recognised >= 70)
    assert hn.meets_classification_target is (t.pct_kha_or_above > 75)
    by_type = hn.area.by_type
    assert sum(f.in_scope for f in by_type.values()) == t.in_scope
    assert by_type["khu_dan_cu"].in_scope == 4  # a1, a2, a5, m1


def test_the_first_read_model_still_counts_units_per_province(loaded: Engine) -> None:
    with loaded.connect() as conn:
        assert projections.unit_counts(conn) == [(HN, 8), (HP, 6)]  # every registration, as before


def test_the_digest_is_stable_and_changes_with_a_reclassification(store: Engine,
                                                                  feed: Callable[[World], None]) -> None:
    world = World()
    build(world)
    feed(world)
    before = report(store, "national")
    assert report(store, "national").digest() == before.digest()
    again = World()
    again.assessment.events = []  # only the new event, with a position after the others
    for _ in range(len(world.assessment.events)):
        next(again.assessment._positions)
    again.types.update(world.types)
    again.reclassify("a2", Y, (HN, "00004"), "trung_binh", "kha", date(Y, 12, 10))
    feed(again)
    after = report(store, "national")
    assert after.digest() != before.digest()
    assert after.area.total.levels["kha"] == before.area.total.levels["kha"] - 1
    assert "C-a2" not in [a["unit_code"] for a in after.award_eligible]

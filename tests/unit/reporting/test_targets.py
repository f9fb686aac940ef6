"""Targets are data per jurisdiction and year: national defaults, overridden by province or commune."""

from __future__ import annotations

import pytest

from services.reporting import targets

pytestmark = pytest.mark.unit

FILES = targets.load_files() + [{"overrides": [
    {"scope": "province:01", "years": [2026], "recognition": {"op": ">=", "pct": 80}},
    {"scope": "commune:00004", "kha_or_above": {"op": ">", "pct": 90}},
    {"scope": "national", "years": [2030], "near_margin_pct": 2},
]}]


def test_national_defaults_are_the_local_plan_targets() -> None:
    t = targets.resolve(2025)
    assert (t.recognition.label(), t.kha_or_above.label(), t.award_levels) == ("≥ 70%", "> 75%", ("xuat_sac", "kha"))
    assert t.recognition.met(70) and not t.kha_or_above.met(75) and t.kha_or_above.met(75.01)


def test_the_most_specific_override_for_the_year_wins() -> None:
    assert targets.resolve(2026, "01", "", FILES).recognition.pct == 80
    assert targets.resolve(2025, "01", "", FILES).recognition.pct == 70  # other year
    assert targets.resolve(2026, "31", "", FILES).recognition.pct == 70  # other province
    commune = targets.resolve(2026, "01", "00004", FILES)
    assert (commune.recognition.pct, commune.kha_or_above.pct) == (80, 90)
    assert targets.resolve(2030, files=FILES).near_margin_pct == 2


def test_a_malformed_target_is_rejected_in_both_languages() -> None:
    bad = [{"defaults": {"recognition": {"op": "~", "pct": 70}, "kha_or_above": {"op": ">", "pct": 75},
                         "near_margin_pct": 5, "award_levels": ["kha"]}}]
    with pytest.raises(targets.TargetsError) as err:
        targets.resolve(2025, files=bad)
    assert err.value.reason == "INVALID_TARGETS" and "Chỉ tiêu" in err.value.message_vi

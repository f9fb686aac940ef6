"""Bench stages run in the order their data needs, whichever stage module was imported first."""

from __future__ import annotations

import pytest

from antt.bench import year_stage  # noqa: F401  (imported before the others on purpose)
from antt.bench import runner  # noqa: F401  (registers every stage)
from antt.bench.stages import STAGES, ordered

pytestmark = pytest.mark.unit


def test_stages_run_in_data_order_even_when_the_year_registered_first() -> None:
    assert [s.name for s in ordered()] == ["import", "bulk_import", "reminder_scan", "full_year", "rollups",
                                           "replay", "rebuild", "memory"]
    assert sorted(s.name for s in STAGES) == sorted(s.name for s in ordered())

"""The collector tuning a service process applies once started (run in a child: it is process-wide)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from antt.settings import CommonSettings

pytestmark = pytest.mark.unit

_PROBE = """
import gc, sys
from antt.runtime.gc_tuning import tune
held = [[] for _ in range(1000)]
before = gc.get_freeze_count()
tune(int(sys.argv[1]))
print(gc.get_threshold()[0], before, gc.get_freeze_count())
"""


def _probe(gen0: int) -> tuple[int, int, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(gen0)], capture_output=True, text=True, check=True)
    threshold, before, after = (int(x) for x in out.stdout.split())
    return threshold, before, after


def test_tune_raises_the_youngest_threshold_and_freezes_what_is_alive() -> None:
    threshold, before, after = _probe(20000)
    assert threshold == 20000
    assert before == 0
    assert after >= 1000  # at least the probe's own live lists


def test_zero_keeps_pythons_threshold_but_still_freezes() -> None:
    threshold, _, after = _probe(0)
    assert threshold == 700
    assert after >= 1000


def test_setting_parses_with_its_default() -> None:
    assert CommonSettings.from_env({}).gc_young_threshold == 20000
    assert CommonSettings.from_env({"ANTT_GC_YOUNG_THRESHOLD": "0"}).gc_young_threshold == 0


def test_without_freeze_only_the_threshold_changes() -> None:
    out = subprocess.run([sys.executable, "-c", "import gc; from antt.runtime.gc_tuning import tune; "
                          "tune(5000, freeze=False); print(gc.get_threshold()[0], gc.get_freeze_count())"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5000", "0"]

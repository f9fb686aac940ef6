"""Garbage-collector tuning for long-running processes.

Python's default first-generation threshold (700 allocations) makes a busy service collect hundreds
of times a second; each pass also walks the objects that survived into the older generations. In the
assessment service this was ≈ 7% of its CPU under the year's commands, ≈ 1% with 20,000 and the
startup objects frozen. The few cycles made per request are still collected, only less often.
"""

from __future__ import annotations

import gc


def tune(gen0: int, *, freeze: bool = True) -> None:
    """Collect the youngest generation every `gen0` allocations (0 keeps Python's default) and, with
    `freeze`, move every object alive now (modules, descriptors, reference data) out of the collector's
    reach (only in a process that owns its lifetime: a frozen object's cycles are never collected)."""
    if gen0 > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0, gen1, gen2)
    if freeze:
        gc.collect()  # garbage made while starting is freed now, not kept alive by the freeze
        gc.freeze()

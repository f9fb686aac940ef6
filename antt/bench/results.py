"""What a stage or a raw limit measured: throughput, latency percentiles, counts and checks."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

_START = time.monotonic()


def progress(message: str) -> None:
    """One progress line on stderr, with the seconds since the bench started."""
    print(f"[bench {time.monotonic() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(seconds: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies given in seconds, in milliseconds."""
    return {f"p{q}": round(percentile(seconds, q) * 1000, 3) for q in (50, 95, 99)} | {
        "max": round(max(seconds) * 1000, 3) if seconds else math.nan}


@dataclass
class Measurement:
    """One measured stage or raw limit."""

    name: str
    status: str = "ok"  # ok | failed | not available yet
    value: float | None = None  # the headline figure, in `unit`
    unit: str = ""  # e.g. "units/s", "events/s", "ms", "MB", "s"
    seconds: float | None = None
    count: int | None = None
    latency_ms: dict[str, float] | None = None
    limit: str = ""  # name of the raw limit this stage is compared with
    ratio: float | None = None
    errors: int = 0
    checks: dict[str, bool] = field(default_factory=dict)  # correctness: counts equal the generated ones
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def correct(self) -> bool:
        """No errors and every check holds."""
        return self.errors == 0 and all(self.checks.values())

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"correct": self.correct}


def rate(count: int, seconds: float) -> float:
    """count / seconds, rounded (0 when no time passed)."""
    return round(count / seconds, 1) if seconds > 0 else 0.0

"""The scheduler's clock: real time in production, controlled in tests and rehearsals."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time (timezone-aware)."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class SystemClock:
    """The machine's time, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(timezone.utc)


class ShiftedClock:
    """Starts at a given instant and runs at real speed (ANTT_NOTIFICATIONS_CLOCK_START)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        """The start instant plus the real time elapsed since."""
        return self.start + timedelta(seconds=time.monotonic() - self._origin)


class FakeClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        """The instant the test set."""
        return self.current

    def set(self, instant: datetime) -> None:
        """Jump to an instant."""
        self.current = instant

    def advance(self, delta: timedelta) -> None:
        """Move forward."""
        self.current += delta

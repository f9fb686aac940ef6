"""Notifications' own settings (ANTT_NOTIFICATIONS_*, ANTT_SMTP_*, ANTT_WEBHOOK_SECRET; see antt.settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from antt.settings import env_value
from services.notifications.clock import Clock, ShiftedClock, SystemClock


@dataclass(frozen=True)
class NotificationsSettings:
    """Scan interval, claim lease, clock, SMTP server and webhook secret."""

    scan_interval: float
    claim_lease: float
    clock_start: datetime | None
    smtp_host: str
    smtp_port: int
    smtp_sender: str
    webhook_secret: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotificationsSettings:
        """Read from `env` (default: the process environment)."""
        e = os.environ if env is None else env
        start = env_value(e, "ANTT_NOTIFICATIONS_CLOCK_START")
        clock_start = datetime.fromisoformat(start) if start else None
        if clock_start is not None and clock_start.tzinfo is None:
            clock_start = clock_start.replace(tzinfo=timezone.utc)
        return cls(
            scan_interval=float(env_value(e, "ANTT_NOTIFICATIONS_SCAN_INTERVAL")),
            claim_lease=float(env_value(e, "ANTT_NOTIFICATIONS_CLAIM_LEASE")),
            clock_start=clock_start,
            smtp_host=env_value(e, "ANTT_SMTP_HOST"),
            smtp_port=int(env_value(e, "ANTT_SMTP_PORT")),
            smtp_sender=env_value(e, "ANTT_SMTP_SENDER"),
            webhook_secret=env_value(e, "ANTT_WEBHOOK_SECRET"),
        )

    def clock(self) -> Clock:
        """Real time, or a clock starting at ANTT_NOTIFICATIONS_CLOCK_START."""
        return ShiftedClock(self.clock_start) if self.clock_start else SystemClock()

"""In-process read model of every area and unit, caught up from the application's notification log."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from antt.eventstore.application import ServiceApplication
from services.registry.domain.admin_area import AdminArea
from services.registry.domain.area_history import AreaHistory, AreaKey
from services.registry.domain.unit import Unit


class Catalog:
    """Areas (as histories) and units, replayed from stored events; call `refresh` before reading."""

    def __init__(self, app: ServiceApplication) -> None:
        self._app = app
        self._lock = threading.RLock()
        self._position = 0
        self._areas: dict[UUID, AdminArea] = {}
        self._units: dict[UUID, Unit] = {}
        self._histories: dict[AreaKey, AreaHistory] = {}
        self._refresh_began = float("-inf")  # when the last refresh through histories() began

    def refresh(self) -> None:
        """Apply every event stored since the last refresh."""
        with self._lock:
            changed: set[UUID] = set()
            for notification in self._app.iter_notifications(self._position):
                self._position = notification.id
                if not notification.topic.startswith("services.registry.domain."):
                    continue
                event: Any = self._app.mapper.to_domain_event(notification)
                if isinstance(event, AdminArea.Event):
                    self._areas[event.originator_id] = event.mutate(self._areas.get(event.originator_id))
                    changed.add(event.originator_id)
                elif isinstance(event, Unit.Event):
                    self._units[event.originator_id] = event.mutate(self._units.get(event.originator_id))
            if changed:
                # Copy on write: readers keep the snapshot they were given, and most refreshes
                # (unit events only) return the same snapshot without copying thousands of areas.
                histories = dict(self._histories)
                for area_id in changed:
                    area = self._areas[area_id]
                    histories[area.key] = area.history()
                self._histories = histories

    def histories(self) -> dict[AreaKey, AreaHistory]:
        """Every area's history by (level, code), up to date: a shared snapshot, never to be mutated.

        Up to date means: a refresh that began after this call did. Concurrent commands waiting for
        the lock share the refresh of whichever of them runs first, rather than each reading again.
        """
        asked = time.monotonic()
        with self._lock:
            if self._refresh_began <= asked:
                self._refresh_began = time.monotonic()
                self.refresh()
            return self._histories

    def units(self) -> list[Unit]:
        """Every unit, up to date, ordered by code."""
        with self._lock:
            self.refresh()
            return sorted(self._units.values(), key=lambda u: u.code)

"""Group commit: concurrent saves share transactions, and each command keeps its own outcome."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from antt.actor import SYSTEM
from antt.eventstore.group import GroupCommit
from services.registry.application import Registry
from services.registry.domain.errors import UnitAlreadyRegisteredError

pytestmark = pytest.mark.unit


class _Events:
    """An aggregate stand-in whose pending events are given names."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)

    def collect_events(self) -> list[str]:
        out, self.names = self.names, []
        return out


def test_commands_waiting_behind_a_save_are_saved_together_in_order() -> None:
    saves: list[tuple[Any, ...]] = []
    first_started, release = threading.Event(), threading.Event()

    def slow_save(*events: Any) -> None:
        if not saves:
            first_started.set()
            release.wait(5)
        saves.append(events)

    group = GroupCommit(slow_save)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(group.save, _Events("a1"))
        assert first_started.wait(5)
        rest = [pool.submit(group.save, _Events(f"b{i}", f"c{i}")) for i in range(6)]
        time.sleep(0.2)  # the six queue behind the first save
        release.set()
        for f in [first, *rest]:
            f.result(5)
    assert saves[0] == ("a1",)
    assert len(saves) == 2 and sorted(saves[1]) == sorted(e for i in range(6) for e in (f"b{i}", f"c{i}"))
    assert all(saves[1].index(f"b{i}") + 1 == saves[1].index(f"c{i}") for i in range(6))  # a command's own order


def test_a_failing_command_in_a_shared_save_fails_alone() -> None:
    saved: list[str] = []
    gate = threading.Lock()

    def save(*events: str) -> None:
        with gate:
            if "bad" in events:
                raise ValueError("bad event")
            time.sleep(0.01)
            saved.extend(events)

    group = GroupCommit(save)
    with ThreadPoolExecutor(10) as pool:
        futures = {name: pool.submit(group.save, _Events(name)) for name in ["bad", *[f"ok{i}" for i in range(20)]]}
        errors = {name: f.exception(5) for name, f in futures.items()}
    assert isinstance(errors.pop("bad"), ValueError)
    assert not any(errors.values())
    assert sorted(saved) == sorted(f"ok{i}" for i in range(20))


def test_concurrent_registrations_of_one_code_register_it_once() -> None:
    app = Registry()

    def register(i: int) -> str:
        code = "KDC-SAME" if i % 5 == 0 else f"KDC-{i}"
        try:
            app.register_unit(code, f"Thôn {i}", "khu_dan_cu", "01", "00145", SYSTEM)
        except UnitAlreadyRegisteredError:
            return "duplicate"
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(register, range(40)))
    assert outcomes.count("duplicate") == 7  # 8 attempts at KDC-SAME: one wins
    assert len(app.catalog.units()) == 33

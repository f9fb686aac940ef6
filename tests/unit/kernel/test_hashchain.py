"""Hash chains: each event links to the previous one; tampering is found and named."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from antt.actor import SYSTEM
from antt.eventstore.hashchain import GENESIS, event_digest
from services.registry.application import Registry

pytestmark = pytest.mark.unit


def test_events_are_chained_in_memory() -> None:
    app = Registry()
    unit = app.register_unit("A-1", "Thôn A", "khu_dan_cu", "31", "11948", SYSTEM)
    (created,) = app.events.get(unit.id)
    assert created.prev_digest == GENESIS and created.digest == event_digest(created)
    assert app.verify_chains() == []


@pytest.mark.integration
def test_changing_one_stored_byte_fails_verify_naming_aggregate_and_version(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    app = Registry(f"sqlite:///{db}")
    units = [app.register_unit(f"A-{i}", f"Thôn {i}", "khu_dan_cu", "31", "11948", SYSTEM) for i in range(3)]
    app.close()
    env = {**os.environ, "ANTT_REGISTRY_DATABASE_URL": f"sqlite:///{db}", "ANTT_DATA_DIR": str(tmp_path)}
    verify = [sys.executable, "-m", "antt.cli", "verify", "registry"]
    clean = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    with sqlite3.connect(db) as conn:
        (state,) = conn.execute("SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = 1",
                                (units[1].id.hex,)).fetchone()
        tampered = bytes(state).replace("Thôn 1".encode(), "Thôn 7".encode())
        assert tampered != state
        conn.execute("UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = 1",
                     (tampered, units[1].id.hex))
    broken = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert f"aggregate {units[1].id} version 1" in broken.stdout
    assert str(units[0].id) not in broken.stdout and str(units[2].id) not in broken.stdout

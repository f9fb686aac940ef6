"""The read models' SQLite connections take their page cache and checkpoint size from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from antt.eventstore.persistence import create_engine

pytestmark = pytest.mark.unit


def _pragmas(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one()),
                    int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()))
    finally:
        engine.dispose()


def test_defaults_are_a_32_mb_cache_and_a_20000_page_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTT_SQLITE_CACHE_MB", raising=False)
    monkeypatch.delenv("ANTT_SQLITE_WAL_PAGES", raising=False)
    assert _pragmas(f"sqlite:///{tmp_path / 'a.db'}") == (-32 * 1024, 20000)


def test_the_settings_reach_every_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTT_SQLITE_CACHE_MB", "8")
    monkeypatch.setenv("ANTT_SQLITE_WAL_PAGES", "500")
    assert _pragmas(f"sqlite:///{tmp_path / 'b.db'}") == (-8 * 1024, 500)

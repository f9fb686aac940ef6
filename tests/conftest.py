"""Shared fixtures: a fresh nats-server per test on free ports, PostgreSQL databases, backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.testing import postgres
from antt.testing.auth import AuthKit


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A JetStream nats-server of this test only (never the machine's NATS on 4222)."""
    server = NatsServer(free_port(), tmp_path / "nats-store", log_file=tmp_path / "nats-server.log").start()
    yield server
    server.stop()


def postgres_server_url() -> str:
    """ANTT_TEST_POSTGRES_URL; skip when unset, but fail under CI=true (it must be tested there)."""
    url = postgres.server_url()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {postgres.ENV} is not set: the PostgreSQL tests must run in CI")
        pytest.skip(f"{postgres.ENV} not set")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A database URL per service, on SQLite files or on fresh PostgreSQL databases."""
    services = ("registry", "assessment", "reporting", "notifications")
    if request.param == "sqlite":
        yield {s: f"sqlite:///{tmp_path / f'{s}.db'}" for s in services}
        return
    url = postgres_server_url()
    try:
        with postgres.temporary_databases(url, len(services)) as urls:
            yield dict(zip(services, urls, strict=True))
    except postgres.PostgresUnavailable as exc:
        pytest.fail(str(exc)) if os.environ.get("CI") == "true" else pytest.skip(str(exc))


@pytest.fixture
def auth_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuthKit:
    """A keyring of this test; merge `.env` into a service's settings and call it with `.aio_channel()`.

    ANTT_AUTH_KEYS_DIR is also set in this process's environment for code that reads it from there.
    """
    kit = AuthKit(tmp_path / "auth-keys")
    for name, value in kit.env.items():
        monkeypatch.setenv(name, value)
    return kit

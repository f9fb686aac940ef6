"""Throw-away PostgreSQL databases on the server named by ANTT_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

ENV = "ANTT_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL server for tests."""


def server_url() -> str | None:
    """The admin URL from the environment, if any."""
    return os.environ.get(ENV) or None


def with_database(url: str, dbname: str) -> str:
    """`url` pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@contextmanager
def temporary_databases(url: str, count: int = 1) -> Iterator[list[str]]:
    """Create `count` empty databases and drop them afterwards; yields their URLs."""
    names = [f"antt_test_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(f"cannot connect to {url}: {exc}") from exc
    try:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
        yield [with_database(url, n) for n in names]
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

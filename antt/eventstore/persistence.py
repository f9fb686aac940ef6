"""Turn a service's database URL into eventsourcing settings and a SQLAlchemy engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.settings import env_value


# Seconds to open a PostgreSQL connection: an unreachable database fails instead of hanging.
CONNECT_TIMEOUT_S = 10


class DatabaseUrlError(ValueError):
    """The database URL is neither sqlite:///path nor postgresql://…"""


def is_postgres(url: str) -> bool:
    """True for postgresql:// (and postgres://) URLs."""
    return url.split(":", 1)[0] in {"postgresql", "postgres", "postgresql+psycopg"}


def sqlite_path(url: str) -> Path:
    """The file of a sqlite:///path URL."""
    if not url.startswith("sqlite:///"):
        raise DatabaseUrlError(f"expected sqlite:///path, got {url!r}")
    return Path(url.removeprefix("sqlite:///"))


def eventsourcing_env(url: str) -> dict[str, str]:
    """Environment for eventsourcing's Application: SQLite by default, PostgreSQL when the URL says so."""
    if url.startswith("sqlite:///"):
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
                "SQLITE_LOCK_TIMEOUT": "30"}
    if is_postgres(url):
        # Imported here so that SQLite-only processes never load psycopg.
        from antt.eventstore.postgres import RECORDER_TOPIC

        parts = urlsplit(url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_LOCK_TIMEOUT": "10",
            # Big saves in bounded INSERTs instead of one pipelined statement (see antt.eventstore.postgres).
            "APPLICATION_RECORDER_TOPIC": RECORDER_TOPIC,
        }
    raise DatabaseUrlError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")


def sqlalchemy_url(url: str) -> str:
    """The same database as a SQLAlchemy URL (psycopg 3 driver for PostgreSQL)."""
    if url.startswith("sqlite:///"):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        return url
    if is_postgres(url):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    raise DatabaseUrlError(f"unsupported database URL {url!r}: use sqlite:///path or postgresql://…")


WRITER = "antt_writer"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: on SQLite it starts with BEGIN IMMEDIATE."""
    with engine.connect().execution_options(**{WRITER: True}) as conn, conn.begin():
        yield conn


def create_engine(url: str) -> Engine:
    """A SQLAlchemy engine for read models and tracking tables in the service's database."""
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if is_postgres(url) else {}
    engine = sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        cache_kib = int(float(env_value(os.environ, "ANTT_SQLITE_CACHE_MB")) * 1024)
        wal_pages = int(env_value(os.environ, "ANTT_SQLITE_WAL_PAGES"))

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets the event store, relay and consumers share one file; wait instead of failing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            # A catching-up projection touches pages of several B-trees per event (random UUID keys):
            # a larger cache and fewer checkpoints measured ≈ 1.3x on reporting's rebuild.
            cur.execute(f"PRAGMA cache_size=-{cache_kib}")
            cur.execute(f"PRAGMA wal_autocheckpoint={wal_pages}")
            cur.close()
            # Let SQLAlchemy, not pysqlite, open transactions, so SAVEPOINTs work.
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            # A writer takes the write lock up front: upgrading a read transaction under WAL fails
            # at once (SQLITE_BUSY) instead of waiting for the busy timeout.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITER) else "BEGIN")
    return engine


def driver_cursor(conn: sa.Connection) -> closing[Any]:
    """A cursor of the DBAPI connection under `conn` (in its transaction), closed on leaving the `with`: for hot
    statements where SQLAlchemy's compiling or per-row result objects cost more than the query."""
    return closing(conn.connection.driver_connection.cursor())  # type: ignore[union-attr]


def _retrying_ddl(step: Callable[[], None], attempts: int) -> None:
    """Run a schema step; replicas starting together may race, so "already exists" is retried."""
    for attempt in range(attempts):
        try:
            step()
            return
        except sa.exc.DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def create_tables(engine: Engine, *metadatas: sa.MetaData, attempts: int = 5) -> None:
    """Create missing tables; replicas starting together may race, so "already exists" is retried."""
    def step() -> None:
        for md in metadatas:
            md.create_all(engine)
    _retrying_ddl(step, attempts)


def create_indexes(engine: Engine, *indexes: sa.Index, attempts: int = 5) -> None:
    """Create missing indexes of tables that already exist (`create_all` adds an index only with its table, so a
    database made before the index was declared lacks it); an index limited to other dialects is skipped."""
    def step() -> None:
        with engine.begin() as conn:
            for index in indexes:
                index.create(conn, checkfirst=True)
    _retrying_ddl(step, attempts)

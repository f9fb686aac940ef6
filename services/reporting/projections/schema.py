"""The one MetaData of reporting's read models (every projection module adds its tables to it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from antt.messaging.consumer import copy_rows

metadata = sa.MetaData()


def iso_date(value: str) -> date | None:
    """A date from an ISO string ("" or None: None); a full timestamp keeps its date part."""
    if not value:
        return None
    return date.fromisoformat(value[:10])


def effective_or_recorded(meta: object) -> date | None:
    """The effective date of an EventMeta, else the date it was recorded."""
    return iso_date(getattr(meta, "effective_date", "")) or iso_date(getattr(meta, "recorded_at", ""))


def mark(conn: sa.Connection) -> str:
    """The driver's positional parameter marker ("?" for sqlite3, "%s" for psycopg)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def insert_sql(conn: sa.Connection, table: sa.Table, columns: Sequence[str]) -> str:
    """A plain driver INSERT of `columns` with positional parameters."""
    m = mark(conn)
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(m for _ in columns)})"


def insert_rows(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows (tuples in `columns` order) with the driver's executemany, or COPY on PostgreSQL.

    SQLAlchemy's per-row parameter processing cost as much as the rest of a batch; the values here are str, int,
    float, bool, date and None, which sqlite3 and psycopg store as SQLAlchemy would for these column types.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        copy_rows(conn, table.name, columns, rows)
    else:
        conn.exec_driver_sql(insert_sql(conn, table, columns), rows)


def select_in(conn: sa.Connection, table: sa.Table, columns: Sequence[str], key: str, values: Sequence[Any],
              per_query: int = 900) -> list[tuple[Any, ...]]:
    """Rows (tuples of `columns`) whose `key` is one of `values`, read `per_query` bound values at a time (under
    SQLite's oldest parameter limit) with plain driver SQL (an expanding IN list costs more to render than to run)."""
    m, out = mark(conn), []
    head = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {key} IN "
    for start in range(0, len(values), per_query):
        chunk = values[start:start + per_query]
        out.extend(conn.exec_driver_sql(head + f"({', '.join(m for _ in chunk)})", tuple(chunk)).fetchall())
    return out

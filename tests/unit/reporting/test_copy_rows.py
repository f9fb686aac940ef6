"""On PostgreSQL the read models' and tracking rows go in with COPY: the rows stored equal those the driver's
multi-row INSERT stores, for any text (tabs, newlines, backslashes, quotes), number, date, flag or NULL, and a
duplicate key fails the batch as the INSERT does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import copy_rows, insert_tracking
from antt.messaging.tracking import metadata as tracking_metadata
from antt.messaging.tracking import tracking
from antt.testing import postgres
from services.reporting import projections
from services.reporting.projections.cases import classifications
from services.reporting.projections.schema import insert_sql
from services.reporting.projections.units import unit_history
from tests.conftest import postgres_server_url

pytestmark = [pytest.mark.unit, pytest.mark.postgres]

def text(length: int | None) -> st.SearchStrategy[str]:
    """Any text up to a column's length (NUL aside: PostgreSQL text cannot hold it either way)."""
    return st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=min(length or 12, 12))


def value(column: sa.Column) -> st.SearchStrategy[object]:
    """Values of a column's Python type, NULL where it may be NULL."""
    kind = column.type
    if isinstance(kind, sa.String):
        found: st.SearchStrategy[object] = text(kind.length)
    elif isinstance(kind, sa.Boolean):
        found = st.booleans()
    elif isinstance(kind, sa.Date):
        found = st.dates(date(1, 1, 1), date(9999, 12, 31))
    elif isinstance(kind, sa.Float):
        found = st.floats(allow_nan=False, allow_infinity=False)
    elif isinstance(kind, sa.BigInteger):
        found = st.integers(-2**63, 2**63 - 1)
    else:
        found = st.integers(-2**31, 2**31 - 1)
    return st.none() | found if column.nullable else found


def rows_of(table: sa.Table) -> st.SearchStrategy[list[tuple[object, ...]]]:
    key = [i for i, c in enumerate(table.columns) if c.primary_key]
    return st.lists(st.tuples(*(value(c) for c in table.columns)), max_size=8,
                    unique_by=lambda r: tuple(r[i] for i in key))


history_rows = rows_of(unit_history)
class_rows = rows_of(classifications)
HISTORY = tuple(c.name for c in unit_history.columns)
CLASSES = tuple(c.name for c in classifications.columns)


@pytest.fixture(scope="module")
def pg() -> Iterator[sa.Engine]:
    with postgres.temporary_databases(postgres_server_url(), 1) as (url,):
        engine = create_engine(url)
        projections.metadata.create_all(engine)
        tracking_metadata.create_all(engine)
        yield engine
        engine.dispose()


def _stored_both_ways(engine: sa.Engine, table: sa.Table, columns: tuple[str, ...],
                      rows: list[tuple[object, ...]]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    out = []
    for way in ("insert", "copy"):
        with engine.begin() as conn:
            conn.execute(table.delete())
            if rows:
                if way == "insert":
                    conn.exec_driver_sql(insert_sql(conn, table, columns), rows)
                else:
                    copy_rows(conn, table.name, columns, rows)
            out.append(sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr))
    return out[0], out[1]


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(rows=history_rows)
def test_copy_stores_what_insert_stores_in_the_history(pg: sa.Engine, rows: list[tuple[object, ...]]) -> None:
    inserted, copied = _stored_both_ways(pg, unit_history, HISTORY, rows)
    assert copied == inserted and len(copied) == len(rows)


@SETTINGS
@given(rows=class_rows)
def test_copy_stores_what_insert_stores_in_classifications(pg: sa.Engine, rows: list[tuple[object, ...]]) -> None:
    inserted, copied = _stored_both_ways(pg, classifications, CLASSES, rows)
    assert copied == inserted and len(copied) == len(rows)


def test_a_duplicate_tracking_row_fails_the_copy_and_its_transaction(pg: sa.Engine) -> None:
    with pg.begin() as conn:
        conn.execute(tracking.delete())
        insert_tracking(conn, [("c", "registry", 1), ("c", "registry", 2)])
    with pytest.raises(Exception, match="(?i)duplicate|unique"), pg.begin() as conn:
        insert_tracking(conn, [("c", "registry", 3), ("c", "registry", 2)])
    with pg.connect() as conn:
        assert sorted(conn.execute(sa.select(tracking.c.position))) == [(1,), (2,)]

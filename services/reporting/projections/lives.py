"""Read model: one row per unit summarising its history as a "then" rollup needs it (kept with the history).

A unit's life is *simple* when its history starts with its one registration and has no move, no closing and one
eligibility throughout (one value, or every eligibility effective by the opening; see `rollup/fast.py`). The
row holds the aggregates that decide it (counts, first and registration versions, the eligibilities seen), so
that a history row updates it without reading the history:
the history is insert-only, and counts, minimums, maximums and "seen" flags fold one row at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from services.reporting.projections.schema import metadata

unit_lives = sa.Table(
    "reporting_unit_lives", metadata,
    sa.Column("unit_id", sa.String(36), primary_key=True),
    sa.Column("simple", sa.Boolean, nullable=False),
    sa.Column("eligible", sa.Boolean, nullable=False),  # the latest eligibility by version (True when none seen)
    sa.Column("registrations", sa.Integer, nullable=False),
    sa.Column("moves_or_closings", sa.Integer, nullable=False),
    sa.Column("first_version", sa.BigInteger, nullable=False),
    sa.Column("registered_version", sa.BigInteger, nullable=True),
    sa.Column("seen_eligible", sa.Boolean, nullable=False),
    sa.Column("seen_ineligible", sa.Boolean, nullable=False),
    sa.Column("eligibility_version", sa.BigInteger, nullable=True),  # the latest row with an eligibility
    sa.Column("eligibility_from", sa.Date, nullable=True),  # the latest effective date of those rows
    sa.Column("renamed", sa.Integer, nullable=False),  # UnitUpdated rows with a name
    sa.Column("renamed_version", sa.BigInteger, nullable=True),
    sa.Column("renamed_to", sa.String(200), nullable=False),  # the name of the latest of them
    # the registration's values (the largest of each when registered more than once: such a life is not simple)
    sa.Column("opened_on", sa.Date, nullable=True),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("unit_type", sa.String(30), nullable=False),
    sa.Column("province_code", sa.String(2), nullable=False),
    sa.Column("commune_code", sa.String(5), nullable=False),
)
sa.Index("ix_reporting_unit_lives_province", unit_lives.c.province_code, unit_lives.c.simple)
sa.Index("ix_reporting_unit_lives_commune", unit_lives.c.commune_code, unit_lives.c.simple)
sa.Index("ix_reporting_unit_lives_simple", unit_lives.c.simple)  # the few lives a rollup folds

_REGISTERED = ("opened_on", "code", "name", "unit_type", "province_code", "commune_code")
_REGISTERED_FROM = {"opened_on": "effective_from"}
_COLUMNS = [c.name for c in unit_lives.columns]
_SELECT = sa.select(unit_lives).where(unit_lives.c.unit_id.in_(sa.bindparam("ids", expanding=True)))
IDS_PER_QUERY = 900  # unit ids bound per IN list (under SQLite's oldest parameter limit)


def _empty(unit_id: str, version: int) -> dict[str, Any]:
    return dict(unit_id=unit_id, simple=False, eligible=True, registrations=0, moves_or_closings=0,
                first_version=version, registered_version=None, seen_eligible=False, seen_ineligible=False,
                eligibility_version=None, eligibility_from=None,
                renamed=0, renamed_version=None, renamed_to="", opened_on=None, code="", name="", unit_type="",
                province_code="", commune_code="")


def _fold(life: dict[str, Any], row: dict[str, Any]) -> None:
    """Add one history row (as `units._history_row` makes it) to a unit's life."""
    version, change = int(row["version"]), row["change"]
    life["first_version"] = min(life["first_version"], version)
    if change == "registered":
        first = life["registrations"] == 0
        life["registrations"] += 1
        life["registered_version"] = version if first else max(life["registered_version"], version)
        for column in _REGISTERED:
            value = row[_REGISTERED_FROM.get(column, column)]
            life[column] = value if first else max(life[column], value)
    elif change in ("moved", "closed"):
        life["moves_or_closings"] += 1
    elif change == "updated" and row["name"]:
        life["renamed"] += 1
        if life["renamed_version"] is None or version > life["renamed_version"]:
            life["renamed_version"], life["renamed_to"] = version, row["name"]
    if row["eligible"] is not None:
        life["seen_eligible" if row["eligible"] else "seen_ineligible"] = True
        if life["eligibility_version"] is None or version > life["eligibility_version"]:
            life["eligibility_version"], life["eligible"] = version, bool(row["eligible"])
        since = row["effective_from"]
        life["eligibility_from"] = since if life["eligibility_from"] is None else max(life["eligibility_from"], since)
    # One eligibility throughout: one value seen, or every eligibility effective by the opening (facts declared
    # with the registration), so that on any day of the life the latest of them (by version) is in force.
    one_eligibility = (not (life["seen_eligible"] and life["seen_ineligible"])
                       or (life["opened_on"] is not None and life["eligibility_from"] <= life["opened_on"]))
    life["simple"] = (life["registrations"] == 1 and life["moves_or_closings"] == 0
                      and life["first_version"] == life["registered_version"] and one_eligibility)


def apply_rows(conn: sa.Connection, rows: Iterable[dict[str, Any]]) -> set[str]:
    """Fold history rows (in order) into their units' lives: one read of the lives touched, one write each way.
    Returns the unit ids touched."""
    rows = list(rows)
    ids = sorted({r["unit_id"] for r in rows})
    if not ids:
        return set()
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), IDS_PER_QUERY):
        for r in conn.execute(_SELECT, {"ids": ids[start:start + IDS_PER_QUERY]}):
            stored[r.unit_id] = dict(r._mapping)
    known = set(stored)
    for row in rows:
        life = stored.get(row["unit_id"])
        if life is None:
            life = stored[row["unit_id"]] = _empty(row["unit_id"], int(row["version"]))
        _fold(life, row)
    updates = [(*(stored[uid][c] for c in _COLUMNS[1:]), uid) for uid in ids if uid in known]
    inserts = [tuple(stored[uid][c] for c in _COLUMNS) for uid in ids if uid not in known]
    insert_sql, update_sql = _driver_sql(conn.dialect.paramstyle)
    # Plain driver statements: SQLAlchemy's per-value processing of these 19 columns cost as much as the rest of
    # a registry batch. The values are str, int, bool, date and None, which sqlite3 and psycopg store as it would.
    if updates:
        conn.exec_driver_sql(update_sql, updates)
    if inserts:
        conn.exec_driver_sql(insert_sql, inserts)
    return set(ids)


def _driver_sql(paramstyle: str) -> tuple[str, str]:
    """INSERT and UPDATE of a whole life with positional parameters in the driver's style."""
    mark = "?" if paramstyle == "qmark" else "%s"
    insert = (f"INSERT INTO {unit_lives.name} ({', '.join(_COLUMNS)}) "
              f"VALUES ({', '.join(mark for _ in _COLUMNS)})")
    update = (f"UPDATE {unit_lives.name} SET {', '.join(f'{c} = {mark}' for c in _COLUMNS[1:])} "
              f"WHERE unit_id = {mark}")
    return insert, update


def backfill(conn: sa.Connection, history: sa.Table) -> int:
    """Build every life from the history (a store made before this read model existed): lives written."""
    if conn.dialect.name == "postgresql":
        # replicas starting together would both find the table empty; the second waits here, then sees the rows
        conn.execute(sa.text(f"LOCK TABLE {unit_lives.name} IN SHARE ROW EXCLUSIVE MODE"))
    if conn.execute(sa.select(unit_lives.c.unit_id).limit(1)).first() is not None:
        return 0
    rows = [dict(r._mapping) for r in conn.execute(sa.select(history).order_by(history.c.unit_id, history.c.version))]
    touched: set[str] = set()
    for start in range(0, len(rows), 5000):  # a unit cut between two chunks folds on from its stored life
        touched |= apply_rows(conn, rows[start:start + 5000])
    return len(touched)

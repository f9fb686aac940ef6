"""Read model: one row per unit summarising its history as a "then" rollup needs it (kept with the history).

A unit's life is *simple* when its history starts with its one registration and has no move, no closing and one
eligibility throughout (one value, or every eligibility effective by the opening; see `rollup/fast.py`). The
row holds the aggregates that decide it (counts, first and registration versions, the eligibilities seen), so
that a history row updates it without reading the history:
the history is insert-only, and counts, minimums, maximums and "seen" flags fold one row at a time.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.reporting.projections.schema import insert_rows, mark, metadata, select_in

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

# A history row as `units.history_row` makes it and `backfill` reads it: a tuple in this column order.
HISTORY_COLUMNS = ("unit_id", "version", "change", "effective_from", "code", "name", "unit_type", "province_code",
                   "commune_code", "eligible")
_UID, _VERSION, _CHANGE, _FROM, _CODE, _NAME, _TYPE, _PROVINCE, _COMMUNE, _ELIGIBLE = range(len(HISTORY_COLUMNS))
# the life's registration columns, each from its history column
_REGISTERED = (("opened_on", _FROM), ("code", _CODE), ("name", _NAME), ("unit_type", _TYPE),
               ("province_code", _PROVINCE), ("commune_code", _COMMUNE))
_COLUMNS = tuple(c.name for c in unit_lives.columns)
_DATES = ("eligibility_from", "opened_on")
_AS_ROW = operator.itemgetter(*_COLUMNS)
_AS_UPDATE = operator.itemgetter(*_COLUMNS[1:], "unit_id")
IDS_PER_QUERY = 900  # unit ids bound per IN list (under SQLite's oldest parameter limit)


def _empty(unit_id: str, version: int) -> dict[str, Any]:
    return dict(unit_id=unit_id, simple=False, eligible=True, registrations=0, moves_or_closings=0,
                first_version=version, registered_version=None, seen_eligible=False, seen_ineligible=False,
                eligibility_version=None, eligibility_from=None,
                renamed=0, renamed_version=None, renamed_to="", opened_on=None, code="", name="", unit_type="",
                province_code="", commune_code="")


def _fold(life: dict[str, Any], row: tuple[Any, ...]) -> None:
    """Add one history row (a tuple in HISTORY_COLUMNS order) to a unit's life."""
    version, change = int(row[_VERSION]), row[_CHANGE]
    life["first_version"] = min(life["first_version"], version)
    if change == "registered":
        first = life["registrations"] == 0
        life["registrations"] += 1
        life["registered_version"] = version if first else max(life["registered_version"], version)
        for column, at in _REGISTERED:
            value = row[at]
            life[column] = value if first else max(life[column], value)
    elif change in ("moved", "closed"):
        life["moves_or_closings"] += 1
    elif change == "updated" and row[_NAME]:
        life["renamed"] += 1
        if life["renamed_version"] is None or version > life["renamed_version"]:
            life["renamed_version"], life["renamed_to"] = version, row[_NAME]
    if row[_ELIGIBLE] is not None:
        life["seen_eligible" if row[_ELIGIBLE] else "seen_ineligible"] = True
        if life["eligibility_version"] is None or version > life["eligibility_version"]:
            life["eligibility_version"], life["eligible"] = version, bool(row[_ELIGIBLE])
        since = row[_FROM]
        life["eligibility_from"] = since if life["eligibility_from"] is None else max(life["eligibility_from"], since)
    # One eligibility throughout: one value seen, or every eligibility effective by the opening (facts declared
    # with the registration), so that on any day of the life the latest of them (by version) is in force.
    one_eligibility = (not (life["seen_eligible"] and life["seen_ineligible"])
                       or (life["opened_on"] is not None and life["eligibility_from"] <= life["opened_on"]))
    life["simple"] = (life["registrations"] == 1 and life["moves_or_closings"] == 0
                      and life["first_version"] == life["registered_version"] and one_eligibility)


def _stored(conn: sa.Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored lives of these units, by unit id (dates as dates: sqlite3 returns them as ISO strings)."""
    stored: dict[str, dict[str, Any]] = {}
    for r in select_in(conn, unit_lives, _COLUMNS, "unit_id", ids, IDS_PER_QUERY):
        life = dict(zip(_COLUMNS, r))
        for column in _DATES:
            if isinstance(life[column], str):
                life[column] = date.fromisoformat(life[column])
        stored[life["unit_id"]] = life
    return stored


def apply_rows(conn: sa.Connection, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """Fold history rows (tuples in HISTORY_COLUMNS order, in order) into their units' lives: one read of the
    lives touched, one write each way. Returns the unit ids touched."""
    ids = sorted({r[_UID] for r in rows})
    if not ids:
        return set()
    stored = _stored(conn, ids)
    known = set(stored)
    for row in rows:
        life = stored.get(row[_UID])
        if life is None:
            life = stored[row[_UID]] = _empty(row[_UID], int(row[_VERSION]))
        _fold(life, row)
    updates = [_AS_UPDATE(stored[uid]) for uid in ids if uid in known]
    if updates:
        m = mark(conn)
        conn.exec_driver_sql(f"UPDATE {unit_lives.name} SET {', '.join(f'{c} = {m}' for c in _COLUMNS[1:])} "
                             f"WHERE unit_id = {m}", updates)
    insert_rows(conn, unit_lives, _COLUMNS, [_AS_ROW(stored[uid]) for uid in ids if uid not in known])
    return set(ids)


def backfill(conn: sa.Connection, history: sa.Table) -> int:
    """Build every life from the history (a store made before this read model existed): lives written."""
    if conn.dialect.name == "postgresql":
        # replicas starting together would both find the table empty; the second waits here, then sees the rows
        conn.execute(sa.text(f"LOCK TABLE {unit_lives.name} IN SHARE ROW EXCLUSIVE MODE"))
    if conn.execute(sa.select(unit_lives.c.unit_id).limit(1)).first() is not None:
        return 0
    columns = [history.c[name] for name in HISTORY_COLUMNS]
    rows = [tuple(r) for r in conn.execute(sa.select(*columns).order_by(history.c.unit_id, history.c.version))]
    touched: set[str] = set()
    for start in range(0, len(rows), 5000):  # a unit cut between two chunks folds on from its stored life
        touched |= apply_rows(conn, rows[start:start + 5000])
    return len(touched)

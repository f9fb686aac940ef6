"""The batch fold of a keyed replica (antt.messaging.replica) on a real SQLite table."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from antt.messaging.replica import Change, KeyedReplica

pytestmark = pytest.mark.unit

metadata = sa.MetaData()
table = sa.Table("replica", metadata, sa.Column("unit_id", sa.String, primary_key=True),
                 sa.Column("name", sa.String, nullable=False, server_default=""),
                 sa.Column("place", sa.String, nullable=False), sa.Column("closed", sa.Boolean, nullable=False))
REPLICA = KeyedReplica(table, "unit_id", dict(name="", closed=False))


def test_a_batch_folds_each_key_in_order_inserts_new_keys_and_reports_unknown_ones() -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"unit_id": "a", "name": "A", "place": "01", "closed": False}])
    unknown: list[str] = []
    batch: list[Change | None] = [
        (False, "a", {"place": "79"}), None, (True, "b", {"place": "01"}), (False, "b", {"closed": True}),
        (False, "c", {"closed": True}), (True, "a", {"name": "A2", "place": "02"}), (False, "a", {"closed": True})]
    with engine.begin() as conn:
        REPLICA.apply(conn, batch, unknown.append)
        rows = sorted(tuple(r) for r in conn.execute(sa.select(table)))
    # later changes win; a move of a unit never registered ("c") writes nothing and is reported
    assert rows == [("a", "A2", "02", True), ("b", "", "01", True)]
    assert unknown == ["c"]


def test_an_empty_batch_writes_nothing() -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        REPLICA.apply(conn, [None, None])
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0

"""Batch writes for a replica table keyed by one column (a service's copy of another service's units).

A batch projection turns each event into a `Change` and hands the batch to `KeyedReplica.apply`: each
key's changes are folded in order (later events win), then one multi-row insert for new keys and one
executemany update per set of changed columns, the same rows as applying the changes one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import sqlalchemy as sa

# (may insert a missing row, key, columns it sets); None: not an event of the replica
Change = tuple[bool, str, dict[str, object]]

_TARGET = "replica_target_key"  # bind name of the key in updates; no replica has a column of that name


class KeyedReplica:
    """The prepared statements of one replica table and the batch fold over them."""

    def __init__(self, table: sa.Table, key: str, insert_defaults: Mapping[str, object]) -> None:
        # What an insert leaves to the column defaults is spelt out (`insert_defaults`) so every row of
        # a multi-row insert has the same columns.
        column = table.c[key]
        self.key = key
        self.insert_defaults = dict(insert_defaults)
        # built once and executed with parameters: building statements per batch spends the consumer's
        # time on SQLAlchemy cache keys
        self._known = sa.select(column).where(column.in_(sa.bindparam("keys", expanding=True)))
        self._insert = table.insert()
        self._update = table.update().where(column == sa.bindparam(_TARGET))

    def apply(self, conn: sa.Connection, changes: Iterable[Change | None],
              unknown: Callable[[str], None] | None = None) -> None:
        """Write a batch of changes; a change that may not insert, for a key with no row, calls `unknown`."""
        found = [c for c in changes if c is not None]
        if not found:
            return
        known = set(conn.execute(self._known, {"keys": sorted({c[1] for c in found})}).scalars())
        inserts: dict[str, dict[str, object]] = {}
        updates: dict[str, dict[str, object]] = {}
        for may_insert, key, values in found:
            if key in inserts:
                inserts[key].update(values)
            elif key in known:
                updates.setdefault(key, {}).update(values)
            elif may_insert:
                inserts[key] = {self.key: key, **self.insert_defaults, **values}
            elif unknown is not None:
                unknown(key)
        if inserts:
            conn.execute(self._insert, list(inserts.values()))
        by_columns: dict[tuple[str, ...], list[dict[str, object]]] = {}
        for key, values in updates.items():
            by_columns.setdefault(tuple(sorted(values)), []).append({_TARGET: key, **values})
        for rows in by_columns.values():
            conn.execute(self._update, rows)

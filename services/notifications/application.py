"""Notifications application: the reminder ledger in the event store, and its listing table.

Every state change of a ReminderDelivery is an optimistic write: the claim is the first event of
an aggregate whose id is derived from the reminder key (a second claim fails in the store), and
every later change (hand-over, sent, failure, take-over) is checked against the version read, so
of two workers only one can hand a message over.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy.engine import Engine

from antt.eventstore.persistence import create_tables, driver_cursor, write_transaction
from antt.eventstore.application import ServiceApplication
from antt.messaging.tracking import metadata as tracking_metadata
from services.notifications import projections
from services.notifications.domain.errors import DeliveryAlreadySettledError
from services.notifications.domain.ledger import DeliveryStatus, NoticeChunk, ReminderDelivery, delivery_id

ledger_metadata = sa.MetaData()

# A listing of the ledger for queries and scans; the event store stays the truth (rows are healed
# from it whenever a claim collides with a delivery the table does not know).
CLAIM_CHUNK = 500  # notices saved per transaction by claim_sent
LEGACY_TABLE = "notifications_deliveries"  # the listing keyed by the text key, migrated by `migrate_listing`
deliveries = sa.Table(
    "notifications_deliveries_v2", ledger_metadata,
    # Uniqueness rests on a 16-byte digest of the key: its index is ≈ 5x smaller than one of the ≈ 100-byte
    # keys, whose random inserts were the dearest part of a bulk claim. A rowid table (not WITHOUT ROWID):
    # the rows are appended, only the compact index takes random inserts (WITHOUT ROWID measured ≈ 2x slower).
    sa.Column("key_digest", sa.LargeBinary(16), primary_key=True),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(80), nullable=False, server_default=""),
    sa.Column("address", sa.String(1000), nullable=False, server_default=""),
    sa.Column("unit_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("province_code", sa.String(5), nullable=False, server_default=""),
    sa.Column("commune_code", sa.String(5), nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("claimed_by", sa.String(100), nullable=False, server_default=""),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)
# The scan retries open deliveries only; sent ones are nearly all rows, so the status index holds the
# open ones alone (a query uses it when its WHERE is this very condition, written literally: OPEN_ROWS).
OPEN_ROWS = sa.text("status IN ('claimed', 'handed_over')")
sa.Index("ix_notifications_deliveries_v2_open", deliveries.c.status, sqlite_where=OPEN_ROWS, postgresql_where=OPEN_ROWS)
# ListDeliveries by jurisdiction: one index for province and province + commune (was one each).
sa.Index("ix_notifications_deliveries_v2_area", deliveries.c.province_code, deliveries.c.commune_code)

# Event-only notices claimed (their listing rows inserted) whose NoticeChunk events are not stored yet:
# written in the claim's transaction, deleted once the events are stored. A scan first stores what a
# crashed one left here, so a claimed notice is published once and never lost.
pending_chunks = sa.Table(
    "notifications_pending_chunks", ledger_metadata,
    sa.Column("batch_id", sa.String(36), primary_key=True),
    sa.Column("chunks", sa.Text, nullable=False),  # JSON list of NoticeChunk arguments
)
# Event-only notices claimed per transaction by claim_notices: the listing's keys are random, so a batch
# inserts all over its primary-key index; 20,000 sorted keys share its pages 4x more than 5,000 did
# (≈ 11 instead of ≈ 15 µs a row on a 200,000-row listing, SQLite).
BULK_NOTICES = 20000
CLAIM_ATTEMPTS = 5  # a bulk claim that met a key inserted concurrently (PostgreSQL) looks again
CHUNK_NOTICES = 500  # notices per NoticeChunk (≈ 200 KiB published: far under NATS's 1 MiB max_payload)


class BulkNotice(NamedTuple):
    """One event-only notice to claim in bulk: its key, listing facts and its group's shared facts.

    A tuple (one is made per notice): the claim reads its fields by position, in C, not one attribute at a time.
    """

    key: str
    unit_id: str
    recipient: str
    province_code: str
    commune_code: str
    group: tuple[str, str, str]  # (notice, offset, obligation facts as canonical JSON) shared by the group


class Notifications(ServiceApplication):
    """The reminder ledger (never rename: the class name names the event store's tables)."""

    service_name = "notifications"

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None,
                 engine: Engine | None = None) -> None:
        super().__init__(database_url, env)
        self.engine = engine
        if engine is not None:
            create_tables(engine, ledger_metadata, tracking_metadata)
            projections.ensure_schema(engine)
            migrate_listing(engine)

    # -- ledger -------------------------------------------------------------------------------------
    def claim(self, key: str, channel: str, by: str, at: datetime, message: dict[str, Any],
              sent_receipt: str | None = None) -> ReminderDelivery | None:
        """Record the intent to send; None when the key is claimed already (by anyone, ever).

        With `sent_receipt` the claim and the send are one event: for the NATS channel, where the
        stored event is itself what the outbox relay publishes.
        """
        delivery = ReminderDelivery(key=key, channel=channel, claimed_by=by, claimed_at=at, message=message,
                                    sent_receipt=sent_receipt)
        try:
            self.save(delivery)
        except IntegrityError:
            self.refresh_row(key)
            return None
        if not self.insert_row(delivery):
            # The key's row exists: healed from this very claim by a worker whose claim collided (ours
            # then), or claimed meanwhile in bulk by another worker and sent as an event (not ours).
            with self._engine().connect() as conn:
                row = conn.execute(sa.select(deliveries.c.status, deliveries.c.claimed_by).where(
                    deliveries.c.key_digest == key_digest(key))).first()
            if row is None or (row[0], row[1]) != (delivery.status.value, by):
                return None
        return delivery

    def get_delivery(self, key: str) -> ReminderDelivery | None:
        """The delivery of a key, or None."""
        try:
            return self.repository.get(delivery_id(key))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return None

    def take_over(self, key: str, by: str, at: datetime) -> ReminderDelivery | None:
        """A new attempt on an open delivery; None when it was settled, handed over or taken by someone else."""
        delivery = self.get_delivery(key)
        if delivery is None:
            return None
        try:
            delivery.reclaim(by, at)
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            self.refresh_row(key)
            return None
        self.write_row(delivery)
        return delivery

    def hand_over(self, delivery: ReminderDelivery, at: datetime) -> bool:
        """Record the hand-over; False when another worker changed the delivery first.

        The listing row is not touched here: the channel commits right after this write, and the
        shorter that gap, the smaller the window in which a crash leaves a handed-over message unsent.
        """
        try:
            delivery.hand_over(at)
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            return False
        return True

    def mark_sent(self, delivery: ReminderDelivery, at: datetime, receipt: str) -> bool:
        """Record the channel's acceptance; False when another worker changed the delivery first."""
        try:
            delivery.mark_sent(at, receipt[:500])
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            self.refresh_row(delivery.key)
            return False
        self.write_row(delivery)
        return True

    def record_failure(self, delivery: ReminderDelivery, at: datetime, error: str, max_attempts: int) -> bool:
        """Record a failed attempt (given up after `max_attempts`); False on a concurrent change."""
        try:
            delivery.record_failure(at, error, max_attempts)
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            self.refresh_row(delivery.key)
            return False
        self.write_row(delivery)
        return True

    # -- listing table ------------------------------------------------------------------------------
    def claim_sent(self, claims: list[tuple[str, str, str, datetime, dict[str, Any]]], receipt: str,
                   chunk: int = CLAIM_CHUNK) -> list[ReminderDelivery | None]:
        """`claim(..., sent_receipt=receipt)` for many (key, channel, by, at, message), a chunk per write.

        One transaction saves a whole chunk; a chunk meeting a key claimed already is claimed again
        one by one, so each key is still claimed once and the others are not held back.
        """
        out: list[ReminderDelivery | None] = []
        for first in range(0, len(claims), chunk):
            part = claims[first:first + chunk]
            made = []
            for key, channel, by, at, message in part:
                made.append(ReminderDelivery(key=key, channel=channel, claimed_by=by, claimed_at=at, message=message,
                                             sent_receipt=receipt))
            try:
                self.save(*made)
            except IntegrityError:
                out.extend(self.claim(k, c, b, a, m, sent_receipt=receipt) for k, c, b, a, m in part)
                continue
            self.write_rows(made, new=True)
            out.extend(made)
        return out

    def claim_notices(self, notices: Sequence[BulkNotice], by: str, at: datetime, channel: str = "nats",
                      batch: int = BULK_NOTICES) -> list[str]:
        """Claim event-only notices and record them sent: the keys claimed now (not claimed before, by anyone).

        One transaction inserts the listing rows of the keys not claimed yet (the primary key decides)
        and the pending chunks that list them; then the chunks are stored as NoticeChunk events (what
        the relay publishes) and the pending record is deleted. A crash in between leaves the record,
        which `store_pending` turns into the same events (same ids) later: once, never lost.
        """
        claimed: list[str] = []
        stored: list[str] = []  # batches whose events are stored: their records go in the next transaction
        # Optimistic until a batch meets a known key: then the later batches look their keys up first.
        optimistic = True
        for first in range(0, len(notices), batch):
            part = notices[first:first + batch]
            for attempt in range(CLAIM_ATTEMPTS):
                try:
                    batch_id, chunks, new = self._claim_batch(part, by, at, channel, stored, optimistic)
                    break
                except sa.exc.IntegrityError:
                    # PostgreSQL: another worker inserted one of these keys after we looked; look again.
                    if attempt == CLAIM_ATTEMPTS - 1:
                        raise
            stored = []
            optimistic = optimistic and len(new) == len(part)
            if not new:
                continue
            self._store_chunks(chunks)
            stored.append(batch_id)
            claimed.extend(new)
        if stored:
            with write_transaction(self._engine()) as conn:
                _forget(conn, stored)
        return claimed

    def _claim_batch(self, part: Sequence[BulkNotice], by: str, at: datetime, channel: str,
                     stored: list[str], optimistic: bool = False) -> tuple[str, list[dict[str, Any]], list[str]]:
        """One transaction: the listing rows of the keys not claimed yet, and the pending record of their chunks
        (and the deletion of the records of `stored` batches: one commit fewer per batch); their keys in order.

        `optimistic`: the rows are first inserted without looking the keys up (a first scan of a stage
        finds none of them); a known key fails that insert, undone to its savepoint, and the keys are
        then looked up as otherwise. The primary key decides either way.
        """
        batch_id = str(uuid.uuid4())
        with write_transaction(self._engine()) as conn:
            _forget(conn, stored)
            keys = list(map(_KEY, part))
            digests = list(map(key_digest, keys))
            # The driver's executemany with values converted once: SQLAlchemy's per-row parameter
            # processing cost more than the insert itself.
            process = deliveries.c.claimed_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            when = process(at) if process is not None else at
            sql, shared = _insert_notices_sql(conn, channel, by, when)
            fresh: Sequence[BulkNotice] = part
            inserted = False
            if optimistic and part:
                try:
                    with conn.begin_nested():
                        conn.exec_driver_sql(sql, _listing_rows(digests, part, shared))
                    inserted = True
                except sa.exc.IntegrityError:
                    pass  # some key is known: undone, looked up below
            if not inserted:
                known = _existing(conn, keys, digests)
                if known:
                    kept = [i for i, k in enumerate(keys) if k not in known]
                    fresh = [part[i] for i in kept]
                    digests = [digests[i] for i in kept]
                if not fresh:
                    return batch_id, [], []
                conn.exec_driver_sql(sql, _listing_rows(digests, fresh, shared))
            chunks = _chunks(batch_id, fresh, at, channel, compact=True)
            conn.execute(pending_chunks.insert().values(batch_id=batch_id, chunks=pending_text(chunks)))
        return batch_id, chunks, keys if fresh is part else list(map(_KEY, fresh))

    def store_pending(self) -> int:
        """Store the chunks of claims whose events a crash left unstored; how many batches."""
        with self._engine().connect() as conn:
            pending = [(r[0], read_pending(r[1])) for r in conn.execute(
                sa.select(pending_chunks.c.batch_id, pending_chunks.c.chunks).order_by(pending_chunks.c.batch_id))]
        for batch_id, chunks in pending:
            self._store_chunks(chunks)
            with write_transaction(self._engine()) as conn:
                _forget(conn, [batch_id])
        return len(pending)

    def _store_chunks(self, chunks: list[dict[str, Any]]) -> None:
        made = [NoticeChunk(chunk_id=c["chunk_id"], sent_at=datetime.fromisoformat(c["sent_at"]),
                            channel=c["channel"], province_code=c["province_code"], commune_code=c["commune_code"],
                            groups=c["groups"]) for c in chunks]
        try:
            self.save(*made)
        except IntegrityError:
            pass  # stored before the crash that left the record: the ids collide, nothing is stored twice

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("notifications needs its SQL engine for the listing table")
        return self.engine

    def insert_row(self, d: ReminderDelivery) -> bool:
        """Insert the listing row of a new delivery; False when the key has a row already."""
        if self.engine is None:
            return True
        with write_transaction(self.engine) as conn:
            # RETURNING, not rowcount: psycopg reports -1 for an insert that a conflict turned into nothing.
            return conn.execute(_insert_new(conn).returning(deliveries.c.key_digest),
                                {"key_digest": key_digest(d.key), "key": d.key, **_row_values(d)}).first() is not None

    def write_row(self, d: ReminderDelivery) -> None:
        """Upsert the listing row of a delivery (after each saved change)."""
        self.write_rows([d])

    def write_rows(self, changed: list[ReminderDelivery], new: bool = False) -> None:
        """Upsert the listing rows of deliveries in one transaction.

        With `new` (deliveries just created in the store) the rows are inserted in one statement; a
        row healed meanwhile from the store by another worker makes it fall back to the upsert per row.
        """
        if self.engine is None or not changed:
            return
        with self.engine.begin() as conn:
            if new:
                try:
                    with conn.begin_nested():
                        conn.execute(_INSERT_ROW, [{"key_digest": key_digest(d.key), "key": d.key, **_row_values(d)}
                                                   for d in changed])
                    return
                except sa.exc.IntegrityError:
                    pass  # some row exists already: the per-row upsert below settles each one
            for d in changed:
                values = _row_values(d)
                digest = key_digest(d.key)
                if conn.execute(_UPDATE_ROW, {"target_digest": digest, **values}).rowcount == 0:
                    try:
                        with conn.begin_nested():
                            conn.execute(_INSERT_ROW, {"key_digest": digest, "key": d.key, **values})
                    except sa.exc.IntegrityError:
                        conn.execute(_UPDATE_ROW, {"target_digest": digest, **values})

    def refresh_row(self, key: str) -> None:
        """Rewrite a row from the event store (the truth)."""
        delivery = self.get_delivery(key)
        if delivery is not None:
            self.write_row(delivery)


# Built once and executed with parameters: a statement built per row cost more than the SQL.
_UPDATE_ROW = deliveries.update().where(deliveries.c.key_digest == sa.bindparam("target_digest"))
_INSERT_ROW = deliveries.insert()


def _insert_new(conn: sa.Connection) -> Any:
    """INSERT … ON CONFLICT (key_digest) DO NOTHING into the listing, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert(deliveries).on_conflict_do_nothing(index_elements=["key_digest"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    return sqlite_insert(deliveries).on_conflict_do_nothing(index_elements=["key_digest"])


def key_digest(key: str) -> bytes:
    """The listing's unique 16-byte name of a reminder key (BLAKE2b-128 of its UTF-8)."""
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


LOOKUP_SIZES = (8, 32, 128, 512)  # digests per look-up statement (the last: the most in one)


def existing_keys(conn: sa.Connection, keys: list[str]) -> set[str]:
    """Which of the keys have a listing row (the driver's SQL: SQLAlchemy compiling 500 parameters cost more)."""
    return _existing(conn, keys, list(map(key_digest, keys)))


def _existing(conn: sa.Connection, keys: list[str], digests: list[bytes]) -> set[str]:
    """The keys (with their digests, in the same order) that have a listing row."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    found: set[bytes] = set()
    # The driver's own cursor (no SQLAlchemy result to set up per look-up); a part is padded to a size of
    # LOOKUP_SIZES with its last digest (the same answer), so a few statements serve every look-up and SQLite's
    # statement cache prepares each once (each part's own size was a statement to prepare per commune).
    with driver_cursor(conn) as cursor:
        for first in range(0, len(digests), LOOKUP_SIZES[-1]):
            part = digests[first:first + LOOKUP_SIZES[-1]]
            size = next(n for n in LOOKUP_SIZES if n >= len(part))
            part += part[-1:] * (size - len(part))
            cursor.execute(f"SELECT key_digest FROM {deliveries.name} WHERE key_digest IN "
                           f"({', '.join([mark] * size)})", part)
            found.update(bytes(r[0]) for r in cursor.fetchall())
    return {k for k, d in zip(keys, digests) if d in found} if found else set()


MIGRATE_PAGE = 5000  # legacy rows copied per statement by migrate_listing
_MIGRATION_LOCK = 0x6E6F7469  # PostgreSQL advisory lock: one replica migrates, the others then find nothing


def migrate_listing(engine: Engine) -> int:
    """Move a legacy listing (keyed by the text key) into the digest-keyed one in one transaction; rows moved.

    Replicas starting together: one copies and drops the legacy table, the others find it gone.
    """
    if not sa.inspect(engine).has_table(LEGACY_TABLE):
        return 0
    legacy = sa.table(LEGACY_TABLE, *(sa.column(c.name, c.type) for c in deliveries.c if c.name != "key_digest"))
    moved = 0
    with write_transaction(engine) as conn:  # SQLite: BEGIN IMMEDIATE, so replicas migrate one after another
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        if not sa.inspect(conn).has_table(LEGACY_TABLE):
            return 0
        after: str | None = None
        while True:
            q = sa.select(*legacy.c).order_by(legacy.c.key).limit(MIGRATE_PAGE)
            rows = conn.execute(q if after is None else q.where(legacy.c.key > after)).all()
            if not rows:
                break
            conn.execute(deliveries.insert(), [{"key_digest": key_digest(r.key), **r._mapping} for r in rows])
            moved += len(rows)
            after = rows[-1].key
        conn.exec_driver_sql(f"DROP TABLE {LEGACY_TABLE}")
    return moved


_NOTICE_COLUMNS = ("key_digest", "key", "recipient", "unit_id", "province_code", "commune_code")  # per notice


def _insert_notices_sql(conn: sa.Connection, channel: str, by: str, when: Any) -> tuple[str, tuple[Any, ...]]:
    """The INSERT of new event-only notices' listing rows, and the values all its rows share but does not hold.

    On SQLite the shared values are written into the statement as literals (the same stored values:
    a column's affinity applies alike), so a row binds its own 6 values instead of 15.
    """
    shared = dict(status=DeliveryStatus.SENT.value, channel=channel, address="", attempts=0, last_error="",
                  claimed_by=by, claimed_at=when, retry_at=when, updated_at=when)
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    literals = [_sqlite_literal(v) for v in shared.values()] if mark == "?" else [None]
    written = None not in literals
    marks = [mark] * len(_NOTICE_COLUMNS) + ([str(v) for v in literals] if written else [mark] * len(shared))
    return (f"INSERT INTO {deliveries.name} ({', '.join(_NOTICE_COLUMNS + tuple(shared))}) VALUES ({', '.join(marks)})",
            () if written else tuple(shared.values()))


def _sqlite_literal(value: Any) -> str | None:
    """`value` as a SQLite literal, or None when it is not a plain str or int one can be written safely as."""
    if type(value) is int:
        return str(value)
    if type(value) is str and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


def _listing_rows(digests: list[bytes], notices: Sequence[BulkNotice], shared: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The listing rows of new event-only notices (with their key digests, in the same order), as the driver's tuples:
    the per-notice values of `_NOTICE_COLUMNS`, then the `shared` values not in the statement.

    In digest order: the digests are random, and inserting them sorted walks the unique index once
    instead of jumping between its pages.
    """
    # Sorted by the digest alone (unique: the rest of a row never decides), each compared once: ≈ 30% faster
    # than comparing the rows themselves.
    if shared:
        return sorted([(digest, key, recipient, unit_id, province, commune, *shared)
                       for digest, (key, unit_id, recipient, province, commune, _) in zip(digests, notices)], key=_KEY)
    return sorted([(digest, key, recipient, unit_id, province, commune)
                   for digest, (key, unit_id, recipient, province, commune, _) in zip(digests, notices)], key=_KEY)


def _forget(conn: sa.Connection, batch_ids: list[str]) -> None:
    """Delete the pending records of batches whose events are stored."""
    if batch_ids:
        conn.execute(pending_chunks.delete().where(pending_chunks.c.batch_id.in_(batch_ids)))


_KEY = itemgetter(0)
_AREA = itemgetter(3, 4)  # (province_code, commune_code) of a BulkNotice
_GROUP = itemgetter(5)
_ITEM = itemgetter(0, 1, 2)  # [key, unit_id, recipient]: a tuple is written as the same JSON array


def _chunks(batch_id: str, notices: list[BulkNotice], at: datetime, channel: str,
            compact: bool = False) -> list[dict[str, Any]]:
    """NoticeChunk arguments: the notices by commune (in order met), at most CHUNK_NOTICES each; with `compact`,
    each group whose items `_units_only` can name by unit id alone is stored so (what the bulk claim stores)."""
    by_area: dict[tuple[str, str], list[BulkNotice]] = {}
    # A commune's notices come in one run (the scan hands them over commune by commune): one step per run.
    for where, run in groupby(notices, _AREA):
        found = by_area.get(where)
        if found is None:
            by_area[where] = list(run)
        else:
            found.extend(run)
    out = []
    sent_at = at.isoformat()
    for (province, commune), members in by_area.items():
        for first in range(0, len(members), CHUNK_NOTICES):
            part = members[first:first + CHUNK_NOTICES]
            kinds = list(map(_GROUP, part))
            distinct = list(dict.fromkeys(kinds))
            if len(distinct) == 1:
                groups = {distinct[0]: list(map(_ITEM, part))}
            else:  # a few groups a chunk: one pass each, in the order first met
                groups = {g: [_ITEM(n) for n, k in zip(part, kinds) if k == g] for g in distinct}
            out.append({"chunk_id": f"{batch_id}/{len(out)}", "sent_at": sent_at, "channel": channel,
                        "province_code": province, "commune_code": commune,
                        "groups": [_group(g, items, compact) for g, items in groups.items()]})
    return out


def _group(group: tuple[str, str, str], items: list[tuple[str, str, str]], compact: bool) -> dict[str, Any]:
    """A NoticeChunk group: its shared facts, then its items (the last key: the stored state keeps the key order)."""
    out: dict[str, Any] = {"notice": group[0], "offset": group[1], "obligation": json.loads(group[2])}
    units = _units_only(out["obligation"], group[1], items) if compact else None
    if units is None:
        out["items"] = json.dumps(items, ensure_ascii=False)
    else:
        out.update(units)
    return out


def _units_only(obligation: dict[str, Any], offset: str, items: list[tuple[str, str, str]]) -> dict[str, Any] | None:
    """The group's items as their unit ids and what rebuilds the rest (`chunk_items`), or None when some item is
    not `year/rule/unit|offset|recipient` with one recipient for all or `<label>unit` each.

    A unit's id is ≈ a fifth of its item's text: the hash chain, the event's JSON and the relay's reading of it
    then handle ≈ 4x fewer characters a notice (each of them escapes every character of the text once).
    """
    year, rule_id = obligation.get("year"), obligation.get("rule_id")
    if type(year) is not int or type(rule_id) is not str or not items:
        return None
    head, tail = f"{year}/{rule_id}/", f"|{offset}|"
    keys, units, recipients = (list(column) for column in zip(*items))
    first, unit = recipients[0], units[0]
    # checked item by item (whole lists compared in C): what is stored must rebuild exactly what was claimed
    if first.endswith(unit) and len(first) > len(unit):  # `<label><unit id>` (the unit itself)?
        label = first[:len(first) - len(unit)]
        if [label + u for u in units] == recipients and [head + u + tail + label + u for u in units] == keys:
            return {"key_head": head, "key_tail": tail, "recipient_head": label, "recipient_per_unit": True,
                    "units": json.dumps(units, ensure_ascii=False)}
    if recipients.count(first) == len(recipients) and [head + u + tail + first for u in units] == keys:
        return {"key_head": head, "key_tail": tail, "recipient_head": first, "recipient_per_unit": False,
                "units": json.dumps(units, ensure_ascii=False)}
    return None


_PAYLOAD = ("items", "units")  # a group's notices: its items, or its unit ids (`_units_only`)


def _payload(group: dict[str, Any]) -> str:
    """Which of `_PAYLOAD` holds a group's notices (a group named by unit ids carries `key_head`)."""
    return "units" if "key_head" in group else "items"


def pending_text(chunks: list[dict[str, Any]]) -> str:
    """A pending record: the chunks without their groups' items as one JSON line, then each group's items, a line each.

    The items are JSON text already (never holding a raw line break): written as they are, not escaped
    into a JSON string once more (that second escaping of every notice cost more than the record's insert).
    """
    items = [g[_payload(g)] for c in chunks for g in c["groups"]]
    bare = [{**c, "groups": [{k: v for k, v in g.items() if k not in _PAYLOAD} for g in c["groups"]]} for c in chunks]
    return "\n".join([json.dumps(bare), *items])


def read_pending(text: str) -> list[dict[str, Any]]:
    """The chunks of a pending record: `pending_text`'s, or one JSON document (as records were written before)."""
    head, newline, rest = text.partition("\n")
    if not newline:
        return json.loads(text)  # type: ignore[no-any-return]
    chunks: list[dict[str, Any]] = json.loads(head)
    items = iter(rest.split("\n"))
    for c in chunks:
        for g in c["groups"]:
            # last, as in the chunk stored (the event's state keeps the key order); a group named by unit ids
            # (`_units_only`) has their list instead of the items
            g[_payload(g)] = next(items)
    return chunks


def _row_values(d: ReminderDelivery) -> dict[str, Any]:
    """The listing row of a delivery, without its key."""
    facts = d.message.get("facts", {})
    return dict(
        status=d.status.value, channel=d.channel, recipient=facts.get("recipient", ""),
        address=d.message.get("address", ""), unit_id=facts.get("unit_id", ""),
        province_code=facts.get("province_code", ""), commune_code=facts.get("commune_code", ""),
        attempts=d.attempts, last_error=d.last_error, claimed_by=d.claimed_by, claimed_at=d.claimed_at,
        retry_at=d.retry_at(), updated_at=d.settled_at or d.last_failure_at or d.claimed_at,
    )

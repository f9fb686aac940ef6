"""The PostgreSQL application recorder of every service: big saves in bounded INSERTs, still one transaction.

eventsourcing's PostgresApplicationRecorder sends a save as ONE INSERT carrying every event in one
array parameter, inside psycopg's pipeline mode. psycopg (3.3) leaves its send loop after one more
flush once no command is queued, even if libpq still holds unsent bytes, and then only waits to
read; when the INSERT is bigger than what the socket takes meanwhile (here between 8,000 and
32,000 registry events, i.e. a few MB), its tail is never sent, the server waits for it, and the
save hangs in `Pipeline.sync` for ever. Saves above `PIPELINE_MAX_BYTES` therefore skip the
pipeline and write consecutive INSERTs of at most `CHUNK_BYTES` each in the same transaction as
the table lock: all or nothing, in order, with notification ids as one ascending run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import get_topic, retry

from antt.eventstore.persistence import CONNECT_TIMEOUT_S

# Stored state per save below which eventsourcing's pipelined path is kept (one round trip): far
# below what one socket flush moves even on a cold remote connection (initial send buffer 16 KiB…).
PIPELINE_MAX_BYTES = 16 * 1024
# Stored state per INSERT on the unpipelined path: bounded memory on both sides, few round trips.
CHUNK_BYTES = 1024 * 1024


def chunks(events: Sequence[StoredEvent], limit: int) -> Iterator[Sequence[StoredEvent]]:
    """Consecutive runs of `events` whose states add up to at most `limit` bytes (at least one event each)."""
    start, size = 0, 0
    for i, event in enumerate(events):
        if i > start and size + len(event.state) > limit:
            yield events[start:i]
            start, size = i, 0
        size += len(event.state)
    if start < len(events):
        yield events[start:]


class ChunkedApplicationRecorder(PostgresApplicationRecorder):
    """PostgresApplicationRecorder that writes big saves without the pipeline, in bounded INSERTs, atomically."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        # The pool opens its first connections while the base class registers its types, so set this first.
        # eventsourcing's POSTGRES_CONNECT_TIMEOUT is only how long to wait for a pooled connection.
        if isinstance(datastore.pool.kwargs, dict):
            datastore.pool.kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        super().__init__(datastore, events_table_name=events_table_name)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert in one transaction: small saves pipelined as eventsourcing does, big ones in chunks."""
        if self.datastore.enable_db_functions or sum(len(e.state) for e in stored_events) <= PIPELINE_MAX_BYTES:
            return super().insert_events(stored_events, **kwargs)
        return self._insert_in_chunks(stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_in_chunks(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        notification_ids: list[int] = []
        # psycopg errors come out of get_connection as eventsourcing's (a repeated id is IntegrityError);
        # leaving conn.transaction() by an exception rolls every chunk back.
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)  # what subclasses write first (tracking)
            self._lock_table(curs)  # once: the whole save gets one unbroken run of notification ids
            self._notify_channel(curs)
            for chunk in chunks(stored_events, CHUNK_BYTES):
                # The aggregate recorder's plain INSERT … RETURNING, without the lock and NOTIFY again.
                PostgresAggregateRecorder._insert_stored_events(self, curs, chunk)
                notification_ids.extend(row["notification_id"] for row in curs.fetchall())
        return notification_ids


RECORDER_TOPIC = get_topic(ChunkedApplicationRecorder)

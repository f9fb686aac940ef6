"""How the PostgreSQL recorder splits a big save into INSERTs (antt.eventstore.postgres)."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from antt.eventstore.persistence import eventsourcing_env
from antt.eventstore.postgres import CHUNK_BYTES, ChunkedApplicationRecorder, chunks

pytestmark = pytest.mark.unit


def test_chunks_keep_order_and_bound_each_insert() -> None:
    sizes = [400_000] * 5 + [CHUNK_BYTES + 1, 10]
    events = [StoredEvent("id", v, "t", b"x" * size) for v, size in enumerate(sizes)]
    runs = list(chunks(events, CHUNK_BYTES))
    assert [e for run in runs for e in run] == events
    assert [len(run) for run in runs] == [2, 2, 1, 1, 1]  # an event bigger than the limit goes alone
    assert list(chunks([], CHUNK_BYTES)) == []


def test_postgres_urls_select_the_chunked_recorder() -> None:
    env = eventsourcing_env("postgresql://u:p@db:5432/registry")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert resolve_topic(env["APPLICATION_RECORDER_TOPIC"]) is ChunkedApplicationRecorder

"""Bulk claims write the listing rows SQLAlchemy's own insert of the same values writes (SQLite and PostgreSQL),
whether the batch was inserted without looking its keys up first (no key known yet) or after it (some known),
and with values the SQLite statement holds as literals (quotes, non-ASCII)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import create_engine
from services.notifications.application import BulkNotice, Notifications, deliveries, key_digest
from services.notifications.domain.ledger import DeliveryStatus

pytestmark = pytest.mark.integration

GROUP = ("registration", "D-7", '{"rule":"registration"}')
TEXT = st.text(alphabet="ab'\"|:-đü \u4e2d\\%?", max_size=8)


def _raw(conn: sa.Connection, digests: list[bytes]) -> list[tuple[object, ...]]:
    """The stored rows as the driver reads them (on SQLite with each value's storage class), without the digest."""
    names = [c.name for c in deliveries.c if c.name != "key_digest"]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    typed = [f"typeof({n})" for n in names] if conn.dialect.name == "sqlite" else []
    sql = (f"SELECT {', '.join(names + typed)} FROM {deliveries.name} "
           f"WHERE key_digest IN ({', '.join([mark] * len(digests))}) ORDER BY key")
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
            for r in conn.exec_driver_sql(sql, tuple(digests))]


@pytest.fixture
def app(database_urls: dict[str, str]) -> Notifications:
    url = database_urls["notifications"]
    notifications = Notifications(url, engine=create_engine(url))
    yield notifications
    notifications.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(TEXT, min_size=1, max_size=12, unique=True), known=st.sets(st.integers(0, 11)),
       by=TEXT, channel=st.sampled_from(["nats", "n'a"]), batch=st.integers(1, 5),
       minute=st.integers(0, 59))
def test_bulk_rows_equal_those_sqlalchemy_writes(app: Notifications, names: list[str], known: set[int], by: str,
                                                 channel: str, batch: int, minute: int) -> None:
    run = uuid.uuid4().hex[:8]  # keys of this example only: the store is shared by the examples
    at = datetime(2026, 3, 24, 9, minute, 7, 123456, tzinfo=timezone(timedelta(hours=7)))
    notices = [BulkNotice(f"{run}/{n}|D-7|unit:{n}", f"u{n}", f"unit:{n}", "01", f"0000{i % 2}", GROUP)
               for i, n in enumerate(names)]
    before = [n for i, n in enumerate(notices) if i in known]
    assert app.claim_notices(before, "earlier", at, channel=channel) == [n.key for n in before]
    fresh = [n for n in notices if n not in before]
    assert app.claim_notices(notices, by, at, channel=channel, batch=batch) == [n.key for n in fresh]
    # The reference: the same rows through SQLAlchemy's insert, under other digests (the digest is the key).
    other = {n.key: key_digest("reference " + n.key) for n in notices}
    with app.engine.begin() as conn:
        conn.execute(deliveries.insert(), [
            dict(key_digest=other[n.key], key=n.key, status=DeliveryStatus.SENT.value, channel=channel,
                 recipient=n.recipient, address="", unit_id=n.unit_id, province_code=n.province_code,
                 commune_code=n.commune_code, attempts=0, last_error="", claimed_by=by if n in fresh else "earlier",
                 claimed_at=at, retry_at=at, updated_at=at) for n in notices])
    with app.engine.connect() as conn:
        assert _raw(conn, [key_digest(n.key) for n in notices]) == _raw(conn, list(other.values()))

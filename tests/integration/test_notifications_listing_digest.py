"""The listing keyed by a 16-byte digest of the reminder key: a store made with the legacy text-keyed listing
is migrated and still refuses a second claim of its keys; key look-ups and the open-rows query answer as the
plain SQL over the key and status columns does (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from services.notifications.application import (LEGACY_TABLE, BulkNotice, Notifications, deliveries, existing_keys,
                                                key_digest, migrate_listing)
from services.notifications.clock import FakeClock
from services.notifications.domain.ledger import DeliveryStatus
from services.notifications.scanner import Scanner

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 24, 9, 0, tzinfo=timezone(timedelta(hours=7)))
GROUP = ("registration", "D-7", '{"rule":"registration"}')

# The listing as the previous schema created it: the text key its primary key, an index per filter column.
legacy_metadata = sa.MetaData()
legacy = sa.Table(
    LEGACY_TABLE, legacy_metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    *(c._copy() for c in deliveries.c if c.name not in ("key_digest", "key", "status", "province_code",
                                                          "commune_code")),
    sa.Column("province_code", sa.String(5), nullable=False, server_default="", index=True),
    sa.Column("commune_code", sa.String(5), nullable=False, server_default="", index=True),
)


def _notice(key: str, commune: str = "00004") -> BulkNotice:
    return BulkNotice(key, key_digest(key).hex(), f"unit:{key}"[:80], "01", commune, GROUP)


def _message(key: str) -> dict[str, object]:
    return {"address": "a@example.org", "subject": "s", "body": "b",
            "facts": {"recipient": "r", "unit_id": key_digest(key).hex(), "province_code": "01",
                      "commune_code": "00004"}}


def _rows(engine: sa.Engine, table: sa.Table) -> dict[str, tuple[object, ...]]:
    names = [c.name for c in legacy.c]
    with engine.connect() as conn:
        return {r[0]: tuple(r) for r in conn.execute(sa.select(*(table.c[n] for n in names)))}


def test_a_legacy_listing_is_migrated_and_its_keys_are_not_claimed_again(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    engine = create_engine(url)
    app = Notifications(url, engine=engine)
    single = "2026/registration/u-1|D-7|email:a@example.org"
    bulk = [f"2026/registration/u-{i}|D-7|unit:u-{i}" for i in range(2, 40)] + ["2026/đăng ký/ü|D-7|unit:ü"]
    assert app.claim(single, "email", "w1", AT, _message(single)) is not None
    assert app.claim_notices([_notice(k) for k in bulk], "w1", AT) == bulk
    before = _rows(engine, deliveries)
    # Turn the store into one the previous schema made: the same rows in the legacy table only.
    legacy_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(legacy.insert(), [dict(zip([c.name for c in legacy.c], r)) for r in before.values()])
        deliveries.drop(conn)
    app.close()

    restarted = Notifications(url, engine=create_engine(url))  # creates the new listing and migrates into it
    assert not sa.inspect(restarted.engine).has_table(LEGACY_TABLE)
    assert _rows(restarted.engine, deliveries) == before
    with restarted.engine.connect() as conn:
        digests = {r[1]: bytes(r[0]) for r in conn.execute(sa.select(deliveries.c.key_digest, deliveries.c.key))}
    assert digests == {k: key_digest(k) for k in before}
    assert migrate_listing(restarted.engine) == 0  # once only
    # Neither a bulk claim nor a single claim (on another channel, by another worker) takes an old key again.
    assert restarted.claim_notices([_notice(k) for k in [single, *bulk]], "w2", AT) == []
    assert restarted.claim(bulk[0], "webhook", "w2", AT, _message(bulk[0])) is None
    assert restarted.claim(single, "email", "w2", AT, _message(single)) is None
    assert _rows(restarted.engine, deliveries) == before
    fresh = "2026/registration/u-new|D-7|unit:u-new"
    assert restarted.claim_notices([_notice(fresh)], "w2", AT) == [fresh]
    restarted.close()


def test_key_lookups_and_open_rows_answer_as_the_key_and_status_columns_do(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    rnd = random.Random(5)
    alphabet = "ab/|:-đü 0\u4e2d"
    keys = sorted({"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 12))) for _ in range(400)})
    claimed = keys[::2]
    assert sorted(app.claim_notices([_notice(k) for k in claimed], "w", AT)) == sorted(claimed)
    for i, k in enumerate(keys[1::40]):  # single claims left claimed, handed over, or sent
        d = app.claim(k, "email", "w", AT, _message(k))
        assert d is not None
        if i % 3:
            assert app.hand_over(d, AT)
            app.write_row(d)
        if i % 3 == 2:
            assert app.mark_sent(d, AT, "ok")
    with app.engine.connect() as conn:
        listed = {r[0]: r[1] for r in conn.execute(sa.select(deliveries.c.key, deliveries.c.status))}
        for probe in (keys, keys[::7], [k + "x" for k in keys[:50]], []):
            assert existing_keys(conn, probe) == {k for k in probe if k in listed}
    open_reference = sorted(k for k, s in listed.items()
                            if s in (DeliveryStatus.CLAIMED.value, DeliveryStatus.HANDED_OVER.value))
    assert {listed[k] for k in open_reference} == {"claimed", "handed_over"}  # both open states are exercised
    scanner = Scanner(app, app.engine, None, {}, FakeClock(AT))  # type: ignore[arg-type]
    assert scanner._open_keys() == open_reference
    app.close()


def test_bulk_claims_of_new_known_and_mixed_batches_claim_exactly_the_unlisted_keys(
        database_urls: dict[str, str]) -> None:
    # The digests looked up name the keys listed already; the others are claimed, in order, and listed.
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    rnd = random.Random(11)
    listed: set[str] = set()
    pool = [f"2026/registration/u-{i}|D-7|unit:u-{i}" for i in range(300)]
    for size in (40, 40, 25, 60, 1, 30, 80, 50):  # in batches of 17: all new, all known and mixed ones
        batch = rnd.sample(sorted(listed), size) if size == 25 else rnd.sample(pool, size)
        expected = [k for k in batch if k not in listed]
        assert app.claim_notices([_notice(k) for k in batch], "w", AT, batch=17) == expected
        listed.update(expected)
        with app.engine.connect() as conn:
            assert {r[0] for r in conn.execute(sa.select(deliveries.c.key))} == listed
    app.close()

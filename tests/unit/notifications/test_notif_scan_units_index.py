"""The scan's unit query and the preview's ledger look-ups, made cheaper, answer as before (SQLite and PostgreSQL).

The unit query reads its own partial index (on SQLite a covering one: no table rows, no sort), which a database
made before it gets at startup; it streams the replica's open, in-scope units with their satisfied facts, as the
replica's plain queries list them. The preview looks the keys of several communes up at once, in statements padded
to a few sizes: the sends and the count of those already claimed are those of the keys the ledger lists.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from antt.events.v1 import registry_pb2
from antt.eventstore.persistence import create_engine
from services.notifications import projections, sweep
from services.notifications.application import LOOKUP_SIZES, BulkNotice, Notifications, existing_keys
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import NatsChannel
from services.notifications.clock import FakeClock
from services.notifications.preview import listing_at, preview_at
from services.notifications.scanner import Scanner
from tests.unit.notifications.helpers import case_registered, close_unit, received

pytestmark = pytest.mark.unit

ICT = timezone(timedelta(hours=7))
D7 = datetime(2026, 3, 24, 9, 0, tzinfo=ICT)  # D-7 of the national 31/03 registration and plan
COMMUNES = [("01", "00004"), ("01", "00008"), ("40", "16681"), ("68", "24820"), ("79", "26734")]
TYPES = ("khu_dan_cu", "co_quan", "doanh_nghiep", "co_so_giao_duc")
SCAN_INDEX = "ix_notifications_units_scan"  # SQLite's only (see projections)


def _register(engine: sa.Engine, count: int, seed: int = 3) -> list[str]:
    """`count` units over the communes (codes repeat, so the unit id breaks ties), in one transaction as the
    consumer applies a batch; some with contacts, some out of scope (eligibility facts), some closed, some with
    assessment facts of 2025 or 2026. Their ids."""
    rnd = random.Random(seed)
    events, ids = [], []
    for i in range(count):
        province, commune = COMMUNES[i % len(COMMUNES)]
        uid, code, unit_type = f"u-{rnd.randrange(16**6):06x}-{i:04d}", f"C{rnd.randrange(40):03d}", TYPES[i % 4]
        ids.append(uid)
        events.append(received("registry", registry_pb2.UnitRegistered(
            unit_id=uid, code=code, name=f"Đơn vị {code} \"{i}\"", unit_type=unit_type, province_code=province,
            commune_code=commune, eligibility=registry_pb2.Eligibility(eligible=i % 11 != 5)), province, commune))
        if i % 5 == 1:
            events.append(received("registry", registry_pb2.UnitUpdated(
                unit_id=uid, code=code, name=f"Đơn vị {code}", contact_email=f"{uid}@example.vn",
                contact_webhook=f"https://hooks.example.vn/{uid}" if i % 10 == 1 else "",
                province_code=province, commune_code=commune), province, commune))
    with engine.begin() as conn:
        projections.on_registry_events(conn, events)
    for i, uid in enumerate(ids):
        province, commune = COMMUNES[i % len(COMMUNES)]
        if i % 13 == 4:
            close_unit(engine, uid, "x", province, commune)
        if i % 6 == 0:
            case_registered(engine, uid, 2026, province, commune)
        if i % 9 == 0:
            case_registered(engine, uid, 2025, province, commune)
    return ids


def _reference(engine: sa.Engine, years: tuple[int, ...], province: str,
               commune: str) -> list[tuple[projections.UnitRow, set[tuple[int, str]]]]:
    """The replica's plain queries: open, in-scope units by (province, commune, code, id) with their facts."""
    with engine.connect() as conn:
        units = list(projections.iter_units(conn, province, commune))
        facts = projections.satisfied_facts(conn, years)
    units.sort(key=lambda u: (u.province_code, u.commune_code, u.code, u.unit_id))
    return [(u, {(y, k) for (uid, y, k) in facts if uid == u.unit_id}) for u in units]


def _index_names(engine: sa.Engine) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes(projections.units.name)}


def test_the_unit_query_streams_the_replicas_open_units_and_their_facts(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    engine = create_engine(url)
    projections.ensure_schema(engine)
    _register(engine, 90)
    for years in ((2026,), (2025, 2026)):
        for province, commune in (("", ""), ("01", ""), ("01", "00008"), ("", "16681"), ("99", "")):
            expected = _reference(engine, years, province, commune)
            assert list(sweep._units_with_facts(engine, years, province, commune)) == expected
    everything = _reference(engine, (2025, 2026), "", "")
    assert any(facts for _, facts in everything) and any(u.contact_webhook for u, _ in everything)
    with engine.connect() as conn:  # closed and out-of-scope units exist, and are left out
        assert conn.execute(sa.select(sa.func.count()).select_from(projections.units)).scalar() > len(everything)


def test_on_sqlite_the_unit_query_reads_only_its_covering_index_in_order(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/notifications.db")
    statements: list[str] = []
    sa.event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    projections.ensure_schema(engine)
    _register(engine, 30)
    for province in ("", "40"):
        statements.clear()
        assert list(sweep._units_with_facts(engine, (2025, 2026), province, ""))
        [query] = [s for s in statements if s.startswith("SELECT notifications_units.unit_id")]
        with engine.connect() as conn:
            plan = " / ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
            steps = [r[1] for r in conn.exec_driver_sql(f"EXPLAIN {query}")]
        assert "USING INDEX ix_notifications_units_scan" in plan and "TEMP B-TREE" not in plan, plan
        # The table's seek is deferred and never made: every column read comes from the index.
        assert "SeekRowid" not in steps and "NotExists" not in steps and steps.count("DeferredSeek") <= 1


def test_a_database_made_before_the_scan_index_gets_it_at_startup_and_scans_the_same(
        database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    engine = create_engine(url)
    projections.metadata.create_all(engine)
    sqlite = engine.dialect.name == "sqlite"
    assert (SCAN_INDEX in _index_names(engine)) is sqlite  # a new replica has it with its table (SQLite only)
    if sqlite:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {SCAN_INDEX}")  # the replica as an earlier version made it
    _register(engine, 40)
    assert SCAN_INDEX not in _index_names(engine)
    before = list(sweep._units_with_facts(engine, (2026,), "", ""))
    app = Notifications(url, engine=engine)  # the service's startup
    assert (SCAN_INDEX in _index_names(engine)) is sqlite
    Scanner(app, engine, load_calendar_set(), {"nats": NatsChannel()}, FakeClock(D7))  # a second time: no error
    assert list(sweep._units_with_facts(engine, (2026,), "", "")) == before
    app.close()


def test_key_lookups_padded_to_a_few_statement_sizes_answer_as_the_listing(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    keys = [f"2026/registration/u{i:05d}|D-7|unit:u{i:05d}" for i in range(1200)]
    listed = set(keys[::3])
    group = ("reminder", "D-7", "{}")
    assert len(app.claim_notices([BulkNotice(k, "u", "unit:u", "01", "00004", group) for k in sorted(listed)],
                                 "w", D7)) == len(listed)
    sizes = sorted({0, 1, 2, *LOOKUP_SIZES, *(n + 1 for n in LOOKUP_SIZES), LOOKUP_SIZES[-1] * 2 + 3, len(keys)})
    with app.engine.connect() as conn:
        for size in sizes:
            for probe in (keys[:size], keys[-size:] if size else [], [k + "!" for k in keys[:size]]):
                assert existing_keys(conn, probe) == listed.intersection(probe), size
    app.close()


def test_the_preview_looks_keys_up_across_communes_and_counts_the_claimed_ones(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    _register(app.engine, 700)
    scanner = Scanner(app, app.engine, load_calendar_set(), {"nats": NatsChannel()}, FakeClock(D7), worker_id="w1")
    first = preview_at(scanner, D7)
    # more notices than one look-up takes, each commune's fewer than half of them: look-ups of several communes
    per_commune = Counter((p.province_code, p.commune_code) for p in first.sends)
    assert first.already_claimed == 0 and len(first.sends) > LOOKUP_SIZES[-1]
    assert len(per_commune) == len(COMMUNES) and max(per_commune.values()) < LOOKUP_SIZES[-1] // 2
    claimed = random.Random(7).sample(first.sends, len(first.sends) // 3)
    group = ("reminder", "D-7", "{}")
    assert len(app.claim_notices([BulkNotice(p.key, p.unit_id, p.recipient, p.province_code, p.commune_code, group)
                                  for p in claimed], "w0", D7)) == len(claimed)
    claimed_keys = {p.key for p in claimed}
    rest = [p for p in first.sends if p.key not in claimed_keys]
    again = preview_at(scanner, D7)
    assert again.already_claimed == len(claimed) and again.sends == rest
    packed = listing_at(scanner, D7)
    assert packed.already_claimed == len(claimed) and packed.page("", len(rest) + 1)[0] == rest
    assert sorted(scanner.scan().sent_keys) == [p.key for p in rest]
    app.close()

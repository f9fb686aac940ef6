"""Restore drill: run, back up while running, destroy everything, restore into a fresh installation.

After the restore the services start again on the restored stores and streams, `antt verify --all`
passes (hash chains, and every stream message against the store that published it), and reporting
answers exactly what it answered before. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from antt.auth.client import client_token
from antt.messaging.streams import stream_name
from antt.reporting.v1 import reporting_service_pb2 as rpb
from antt.reporting.v1 import reporting_service_pb2_grpc as rpb_grpc
from antt.runtime.dev import load_demo, wait_serving
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.settings import SERVICES
from antt.testing import postgres
from antt.testing.auth import service_channel
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_until
from services.registry.demo import demo_units
from tests.e2e.pipeline_support import stream_message_ids

pytestmark = pytest.mark.e2e


def db_env(urls: dict[str, str]) -> dict[str, str]:
    """ANTT_<SVC>_DATABASE_URL for every service."""
    return {f"ANTT_{s.upper()}_DATABASE_URL": u for s, u in urls.items()}


@contextmanager
def running(env: dict[str, str], logs: Path) -> Iterator[list[ServiceProcess]]:
    """The four services as `antt serve` processes, SERVING."""
    logs.mkdir(parents=True, exist_ok=True)
    procs = [ServiceProcess(["serve", s], env, logs / f"{s}.log").start() for s in SERVICES]
    try:
        for s in SERVICES:
            wait_serving(int(env[f"ANTT_{s.upper()}_GRPC_PORT"]), timeout=180)
        yield procs
    finally:
        for p in procs:
            p.stop()


def report_digests(env: dict[str, str]) -> dict[int, str]:
    """Digest of the national rollup of this year and the last, as reporting answers now."""
    this_year = datetime.now(UTC).year
    with service_channel(env, f"127.0.0.1:{env['ANTT_REPORTING_GRPC_PORT']}") as ch:
        stub = rpb_grpc.ReportingServiceStub(ch)
        return {y: stub.GetRollup(rpb.GetRollupRequest(query=rpb.ReportQuery(year=y, scope="national")),
                                  timeout=30).rollup.digest for y in (this_year - 1, this_year)}


def unit_counts(env: dict[str, str]) -> rpb.GetUnitCountsResponse:
    """Reporting's answer to GetUnitCounts."""
    with service_channel(env, f"127.0.0.1:{env['ANTT_REPORTING_GRPC_PORT']}") as ch:
        return rpb_grpc.ReportingServiceStub(ch).GetUnitCounts(rpb.GetUnitCountsRequest(), timeout=10)


def antt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `antt` command as an operator would."""
    return subprocess.run([sys.executable, "-m", "antt.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@contextmanager
def fresh_databases(kind: str, tmp: Path) -> Iterator[dict[str, str]]:
    """Empty databases for the restored installation, of the same kind as the original."""
    if kind == "sqlite":
        yield {s: f"sqlite:///{tmp / 'restored' / f'{s}.db'}" for s in SERVICES}
        return
    server = postgres.server_url()
    assert server is not None
    with postgres.temporary_databases(server, len(SERVICES)) as urls:
        yield dict(zip(SERVICES, urls, strict=True))


@pytest.mark.timeout(900)  # two installations of four processes each, on a shared 2-core machine
def test_restore_drill(tmp_path: Path, database_urls: dict[str, str]) -> None:
    kind = "postgres" if database_urls["registry"].startswith("postgres") else "sqlite"
    first_nats = NatsServer(free_port(), tmp_path / "nats-1", log_file=tmp_path / "nats-1.log").start()
    env = service_env(tmp_path / "var-1", first_nats.url, **db_env(database_urls))
    expected_total = len(demo_units())
    try:
        with running(env, tmp_path / "logs-1"):
            assert load_demo(int(env["ANTT_REGISTRY_GRPC_PORT"]), client_token(env)) == expected_total
            wait_until(lambda: unit_counts(env).total == expected_total, timeout=60,
                       message="demo units counted by reporting")
            before = unit_counts(env)
            digests = report_digests(env)
            assert all(digests.values())
            # Backed up while every service runs: the copy order keeps it consistent.
            result = antt(env, "backup", "--out", str(tmp_path / "backup"))
            assert result.returncode == 0, result.stdout + result.stderr
            assert antt(env, "verify", "--all").returncode == 0
        ids_before = stream_message_ids(first_nats.url)
    finally:
        first_nats.stop()

    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["stores"]) == set(SERVICES)
    assert manifest["streams"][stream_name("registry")]["messages"] == len(ids_before) >= expected_total
    expected_kind = {"sqlite"} if kind == "sqlite" else ({"pg_dump"} if shutil.which("pg_dump") else {"copy"})
    assert {s["kind"] for s in manifest["stores"].values()} == expected_kind

    # Destroy everything: the data directory with the SQLite files and the NATS store.
    shutil.rmtree(tmp_path / "var-1")
    shutil.rmtree(tmp_path / "nats-1")

    second_nats = NatsServer(free_port(), tmp_path / "nats-2", log_file=tmp_path / "nats-2.log").start()
    try:
        with fresh_databases(kind, tmp_path) as urls:
            env2 = service_env(tmp_path / "var-2", second_nats.url, **db_env(urls))
            result = antt(env2, "restore", "--from", str(tmp_path / "backup"))
            assert result.returncode == 0, result.stdout + result.stderr
            # Restoring twice is refused: restore only ever fills a fresh installation.
            again = antt(env2, "restore", "--from", str(tmp_path / "backup"))
            assert again.returncode == 1 and "RESTORE_TARGET_NOT_EMPTY" in again.stderr
            assert stream_message_ids(second_nats.url) == ids_before

            verified = antt(env2, "verify", "--all")
            assert verified.returncode == 0, verified.stdout + verified.stderr
            with running(env2, tmp_path / "logs-2"):
                assert unit_counts(env2) == before
                assert report_digests(env2) == digests
                # The restored installation keeps working: a new unit flows through to reporting.
                from antt.registry.v1 import registry_service_pb2 as pb
                from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc

                u = demo_units()[0]
                with service_channel(env2, f"127.0.0.1:{env2['ANTT_REGISTRY_GRPC_PORT']}") as ch:
                    pb_grpc.RegistryServiceStub(ch).RegisterUnit(pb.RegisterUnitRequest(
                        code="DRILL-1", name="Đơn vị sau khôi phục", unit_type=u.unit_type,
                        province_code=u.province_code, commune_code=u.commune_code), timeout=10)
                wait_until(lambda: unit_counts(env2).total == expected_total + 1, timeout=60,
                           message="a unit registered after the restore reaches reporting")
            assert antt(env2, "verify", "--all").returncode == 0
            # verify --all has teeth: a stream message that differs from the store is named.
            forge(second_nats.url)
            forged = antt(env2, "verify", "--all")
            assert forged.returncode == 1 and "antt-hash differs" in forged.stdout, forged.stdout
    finally:
        second_nats.stop()


def forge(nats_url: str) -> None:
    """Publish a copy of the registry stream's first message with another hash."""
    import asyncio

    import nats

    async def run() -> None:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            first = await js.get_msg(stream_name("registry"), 1)
            headers = dict(first.headers or {})
            headers.update({"Nats-Msg-Id": "forged-1", "antt-hash": "0" * 64})
            await js.publish(first.subject, first.data, headers=headers, stream=stream_name("registry"))
        finally:
            await nc.close()

    asyncio.run(run())


def test_backup_and_restore_refuse_wrong_directories(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x", encoding="utf-8")
    env = service_env(tmp_path / "var", "nats://127.0.0.1:1")
    result = antt(env, "backup", "--out", str(tmp_path / "full"))
    assert result.returncode == 1 and "BACKUP_FAILED" in result.stderr
    result = antt(env, "restore", "--from", str(tmp_path / "full"))
    assert result.returncode == 1 and "BACKUP_INVALID" in result.stderr and "manifest.json" in result.stderr
    # NATS unreachable: one clear line naming the variable, and no manifest (an incomplete backup).
    import sqlite3

    (tmp_path / "var").mkdir()
    sqlite3.connect(tmp_path / "var" / "reporting.db").close()  # the first store copied exists
    result = antt(env, "backup", "--out", str(tmp_path / "new"))
    assert result.returncode == 1 and "ANTT_NATS_URL" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "new" / "manifest.json").exists()


@pytest.mark.postgres
def test_postgres_copy_fallback_round_trips_a_store(tmp_path: Path) -> None:
    # Without pg_dump on PATH, a PostgreSQL store is copied table by table with COPY.
    import psycopg

    from antt.ops import stores
    from antt.actor import SYSTEM
    from services.registry import reference
    from services.registry.application import Registry

    def first_commune() -> tuple[str, str]:
        c = min(reference.communes().values(), key=lambda a: a.code)
        return c.province_code, c.code
    from tests.conftest import postgres_server_url
    from tests.e2e.pipeline_support import append_units

    def table_counts(url: str) -> dict[str, int]:
        with psycopg.connect(url) as conn:
            names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            return {n: conn.execute(f'SELECT count(*) FROM public."{n}"').fetchone()[0] for n in names}

    with postgres.temporary_databases(postgres_server_url(), 2) as (source, target):
        appended = append_units(source, 120)
        entry = stores.backup_store("registry", source, tmp_path / "stores", pg_dump=None)
        assert entry["kind"] == "copy"
        stores.restore_store("registry", target, entry, tmp_path / "stores")
        before, after = table_counts(source), table_counts(target)
        assert {n: after[n] for n in before} == before
        assert all(after[n] == 0 for n in set(after) - set(before))  # the code's own tables, still empty
        app = Registry(target)
        try:
            assert app.verify_chains() == []
            assert app.recorder.max_notification_id() == appended.last_position
            # The sequences moved on: a new event continues after the restored positions.
            app.save_new(app.new_unit("DRILL-1", "Đơn vị sau khôi phục", "khu_dan_cu", *first_commune(), SYSTEM))
            assert app.recorder.max_notification_id() == appended.last_position + 1
        finally:
            app.close()
        with pytest.raises(stores.RestoreTargetNotEmptyError):
            stores.restore_store("registry", target, entry, tmp_path / "stores")

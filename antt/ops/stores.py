"""Consistent copies of one service's database: SQLite online backup, pg_dump or COPY for PostgreSQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from antt.eventstore.persistence import is_postgres, sqlite_path
from antt.ops.errors import BackupError, BackupInvalidError, RestoreTargetNotEmptyError

# An unreachable database must fail the backup or restore, not hang it.
CONNECT_TIMEOUT_S = 10


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def backup_store(service: str, url: str, out_dir: Path, pg_dump: str | None = None) -> dict[str, Any]:
    """Copy the store of `service` into `out_dir`; returns its manifest entry."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not is_postgres(url):
        source = sqlite_path(url)
        if not source.exists():
            raise BackupError(f"không thấy cơ sở dữ liệu {source}", f"database file {source} does not exist",
                              field=f"ANTT_{service.upper()}_DATABASE_URL")
        target = out_dir / f"{service}.sqlite"
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)  # online backup API: a consistent snapshot while the service writes
        dst.close()
        src.close()
        return {"kind": "sqlite", "file": target.name}
    if pg_dump:
        target = out_dir / f"{service}.pgdump"
        result = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                                 f"--file={target}", f"--dbname={_libpq_url(url)}"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_dump thất bại cho {service}", f"pg_dump failed for {service}: {result.stderr}")
        return {"kind": "pg_dump", "file": target.name}
    return _copy_out(service, url, out_dir)


def _copy_out(service: str, url: str, out_dir: Path) -> dict[str, Any]:
    """COPY every table of the public schema in one REPEATABLE READ snapshot, plus sequence values."""
    folder = out_dir / f"{service}.copy"
    folder.mkdir()
    tables: list[str] = []
    with psycopg.connect(_libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        for name in names:
            with open(folder / f"{name}.copy", "wb") as f, conn.cursor().copy(
                    sql.SQL("COPY public.{} TO STDOUT").format(sql.Identifier(name))) as copy:
                for chunk in copy:
                    f.write(chunk)
            tables.append(name)
        sequences = {r[0]: r[1] for r in conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'")}
        conn.rollback()
    (folder / "sequences.json").write_text(json.dumps(sequences, sort_keys=True), encoding="utf-8")
    return {"kind": "copy", "file": folder.name, "tables": tables}


def store_is_empty(url: str) -> bool:
    """True when the target has no SQLite file (or an empty one) / no table in PostgreSQL's public schema."""
    if not is_postgres(url):
        path = sqlite_path(url)
        if not path.exists():
            return True
        with sqlite3.connect(path) as conn:
            count = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        conn.close()
        return int(count) == 0
    with psycopg.connect(_libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
        return conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0


def require_empty(service: str, url: str) -> None:
    """Raise RestoreTargetNotEmptyError unless the database of `service` is empty."""
    if not store_is_empty(url):
        raise RestoreTargetNotEmptyError(
            f"cơ sở dữ liệu của {service} không trống; chỉ khôi phục vào bản cài đặt mới",
            f"the database of {service} is not empty; restore only into a fresh installation",
            field=f"ANTT_{service.upper()}_DATABASE_URL")


def restore_store(service: str, url: str, entry: dict[str, Any], backup_dir: Path,
                  pg_restore: str | None = None) -> None:
    """Write a backed-up store into the (empty) database at `url`."""
    require_empty(service, url)
    source = backup_dir / entry["file"]
    if not source.exists():
        raise BackupInvalidError(f"bản sao lưu thiếu {source}", f"backup is missing {source}")
    kind = entry["kind"]
    if kind == "sqlite":
        if is_postgres(url):
            raise BackupInvalidError("bản sao lưu SQLite không khôi phục được vào PostgreSQL",
                                     "a SQLite backup cannot be restored into PostgreSQL")
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        dst.close()
        src.close()
        return
    if not is_postgres(url):
        raise BackupInvalidError("bản sao lưu PostgreSQL chỉ khôi phục được vào PostgreSQL",
                                 "a PostgreSQL backup can only be restored into PostgreSQL")
    if kind == "pg_dump":
        tool = pg_restore or shutil.which("pg_restore")
        if tool is None:
            raise BackupError("không có pg_restore trên PATH", "pg_restore is not on PATH")
        result = subprocess.run([tool, "--no-owner", "--no-privileges", "--exit-on-error",
                                 f"--dbname={_libpq_url(url)}", str(source)], capture_output=True, text=True,
                                check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_restore thất bại cho {service}", f"pg_restore failed for {service}: {result.stderr}")
        return
    if kind == "copy":
        _copy_in(service, url, entry, source)
        return
    raise BackupInvalidError(f"kiểu sao lưu lạ {kind!r}", f"unknown store backup kind {kind!r}")


def create_schema(service: str, url: str) -> None:
    """Create every table of `service` the way its code does at start (application, relay, consumers)."""
    import importlib

    from antt.messaging.tracking import metadata as tracking_metadata
    from antt.settings import ServiceSettings

    settings = ServiceSettings.from_env(service, {f"ANTT_{service.upper()}_DATABASE_URL": url})
    svc = importlib.import_module(f"services.{service}.main").build(settings)
    tracking_metadata.create_all(svc.engine)
    for spec in svc.parts.consumers:
        for md in spec.metadata:
            md.create_all(svc.engine)
    if svc.parts.app is not None:
        svc.parts.app.close()
    svc.engine.dispose()


def _copy_in(service: str, url: str, entry: dict[str, Any], folder: Path) -> None:
    """Schema from the service's own code, then the rows by COPY, then the sequences."""
    create_schema(service, url)
    sequences = json.loads((folder / "sequences.json").read_text(encoding="utf-8"))
    with psycopg.connect(_libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
        existing = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        missing = sorted(set(entry["tables"]) - existing)
        if missing:
            raise BackupInvalidError(f"{service} không tạo được các bảng {missing}",
                                     f"{service} does not create the tables {missing} of the backup")
        for name in entry["tables"]:
            with open(folder / f"{name}.copy", "rb") as f, conn.cursor().copy(
                    sql.SQL("COPY public.{} FROM STDIN").format(sql.Identifier(name))) as copy:
                while chunk := f.read(1 << 16):
                    copy.write(chunk)
        for name, value in sequences.items():
            if value is not None:
                conn.execute("SELECT setval(%s, %s)", (f"public.{name}", value))

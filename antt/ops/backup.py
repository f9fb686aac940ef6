"""`antt backup` and `antt restore`: every service's store and every JetStream stream, consistently.

Consistency while the services run comes from the order of the copies: a consumer's store is copied
before the stream it reads, and a stream before the store of the service that publishes it. So a
restored consumer never has applied an event its restored stream lacks, and a restored stream never
holds an event its publisher's restored store lacks. A relay cursor copied ahead of its stream is
moved back on restore; the relay then republishes (JetStream drops repeats by Nats-Msg-Id, the
consumers' tracking rows drop the rest).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from antt.eventstore.persistence import create_engine
from antt.messaging.streams import DLQ_STREAM, PUBLISHING_SERVICES, stream_name
from antt.messaging.tracking import relay_position
from antt.ops import streams, stores
from antt.ops.errors import BackupError, BackupInvalidError
from antt.settings import SERVICES, CommonSettings, ServiceSettings

FORMAT = 1
MANIFEST = "manifest.json"
# Consumers before the streams they read, streams before the stores that publish them.
ORDER: tuple[tuple[str, str], ...] = (
    ("store", "reporting"),
    ("stream", DLQ_STREAM),
    ("stream", stream_name("notifications")),
    ("store", "notifications"),
    ("stream", stream_name("assessment")),
    ("store", "assessment"),
    ("stream", stream_name("registry")),
    ("store", "registry"),
)


def backup(out_dir: Path, env: dict[str, str] | None = None, pg_dump: str | None = None) -> dict[str, Any]:
    """Write a backup of the installation described by `env` into the new directory `out_dir`."""
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"thư mục {out_dir} không trống", f"directory {out_dir} is not empty")
    common = CommonSettings.from_env(env)
    pg_dump = pg_dump if pg_dump is not None else shutil.which("pg_dump")
    manifest: dict[str, Any] = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                                "order": [list(step) for step in ORDER], "stores": {}, "streams": {}}
    (out_dir / "stores").mkdir(parents=True, exist_ok=True)
    (out_dir / "streams").mkdir(exist_ok=True)
    for kind, name in ORDER:
        if kind == "store":
            url = ServiceSettings.from_env(name, env).database_url
            manifest["stores"][name] = stores.backup_store(name, url, out_dir / "stores", pg_dump or None)
        else:
            manifest["streams"].update(streams.run(streams.dump_streams(common.nats_servers, out_dir / "streams",
                                                                        [name])))
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return manifest


def read_manifest(from_dir: Path) -> dict[str, Any]:
    """The manifest of a backup directory, checked for completeness."""
    path = from_dir / MANIFEST
    if not path.exists():
        raise BackupInvalidError(f"{from_dir} không phải bản sao lưu antt (thiếu {MANIFEST})",
                                 f"{from_dir} is not an antt backup (no {MANIFEST})")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupInvalidError(f"định dạng sao lưu {manifest.get('format')} không hỗ trợ",
                                 f"unsupported backup format {manifest.get('format')}")
    missing = sorted(set(SERVICES) - set(manifest["stores"]))
    if missing:
        raise BackupInvalidError(f"bản sao lưu thiếu kho của {missing}", f"the backup lacks the stores of {missing}")
    return manifest


def restore(from_dir: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Bring a fresh installation (empty databases, empty NATS) back from a backup directory."""
    manifest = read_manifest(from_dir)
    common = CommonSettings.from_env(env)
    urls = {s: ServiceSettings.from_env(s, env).database_url for s in SERVICES}
    for service, url in urls.items():  # refuse before writing anything
        stores.require_empty(service, url)
    for service in SERVICES:
        stores.restore_store(service, urls[service], manifest["stores"][service], from_dir / "stores")
    result = streams.run(streams.restore_streams(common.nats_servers, from_dir / "streams", manifest["streams"],
                                                 common.nats_replicas))
    for service in PUBLISHING_SERVICES:
        name = stream_name(service)
        if name in manifest["streams"]:
            rewind_relay(service, urls[service], streams.last_positions(from_dir / "streams" /
                                                                        manifest["streams"][name]["file"]))
    return {"streams": result, "stores": sorted(urls)}


def rewind_relay(service: str, url: str, published: int) -> None:
    """Move the relay cursor back to the last position the restored stream holds."""
    engine = create_engine(url)
    try:
        if not sa.inspect(engine).has_table(relay_position.name):
            return
        with engine.begin() as conn:
            conn.execute(relay_position.update()
                         .where(relay_position.c.service == service, relay_position.c.position > published)
                         .values(position=published))
    finally:
        engine.dispose()

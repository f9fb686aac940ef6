"""JetStream streams to files and back: every message with its headers, republished in order."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from antt.messaging.streams import ensure_streams, stream_configs
from antt.ops.errors import BackupError, BackupInvalidError, RestoreTargetNotEmptyError

MSG_ID = "Nats-Msg-Id"


async def _quiet(_exc: Exception) -> None:
    """Connection errors are reported once, by connect(), not logged with a traceback."""


async def connect(servers: list[str]) -> Client:
    """A client for a one-shot command: fails fast instead of reconnecting forever."""
    try:
        return await nats.connect(servers=servers, name="antt-ops", connect_timeout=5, max_reconnect_attempts=3,
                                  allow_reconnect=True, error_cb=_quiet)
    except Exception as exc:  # no servers, refused, timeout: the operator gets one clear line
        raise BackupError(f"không kết nối được NATS {', '.join(servers)}: kiểm tra ANTT_NATS_URL",
                          f"cannot connect to NATS {', '.join(servers)} ({exc}): check ANTT_NATS_URL",
                          field="ANTT_NATS_URL") from exc


async def dump_stream(js: JetStreamContext, name: str, path: Path) -> dict[str, Any]:
    """Write every message of stream `name` up to its current last sequence to `path` (JSON lines)."""
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        path.write_text("", encoding="utf-8")
        return {"file": path.name, "messages": 0, "first_seq": 0, "last_seq": 0}
    last = info.state.last_seq
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        if info.state.messages:
            sub = await js.subscribe(info.config.subjects[0], stream=name, ordered_consumer=True)
            try:
                while True:
                    msg = await sub.next_msg(timeout=10)
                    seq = msg.metadata.sequence.stream
                    out.write(json.dumps({
                        "seq": seq, "subject": msg.subject, "headers": dict(msg.headers or {}),
                        "data": base64.b64encode(msg.data).decode("ascii"),
                    }, ensure_ascii=False, sort_keys=True) + "\n")
                    count += 1
                    if seq >= last:
                        break
            finally:
                await sub.unsubscribe()
    return {"file": path.name, "messages": count, "first_seq": info.state.first_seq, "last_seq": last}


def read_dump(path: Path) -> list[dict[str, Any]]:
    """The messages of a stream dump, in order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def last_positions(path: Path) -> int:
    """Highest antt-position in a stream dump (0 when empty)."""
    best = 0
    for m in read_dump(path):
        value = m["headers"].get("antt-position", "")
        if value.isdigit():
            best = max(best, int(value))
    return best


async def restore_stream(js: JetStreamContext, name: str, path: Path) -> dict[str, Any]:
    """Republish a dump into the (empty) stream `name`, in order, with each message's Nats-Msg-Id."""
    info = await js.stream_info(name)
    if info.state.messages or info.state.last_seq:
        raise RestoreTargetNotEmptyError(f"luồng {name} không trống; chỉ khôi phục vào bản cài đặt mới",
                                         f"stream {name} is not empty; restore only into a fresh installation")
    published = 0
    same_sequences = True
    for m in read_dump(path):
        headers = {str(k): str(v) for k, v in m["headers"].items()}
        if MSG_ID not in headers:
            raise BackupInvalidError(f"tin nhắn {m['seq']} của {name} thiếu {MSG_ID}",
                                     f"message {m['seq']} of {name} has no {MSG_ID}")
        ack = await js.publish(m["subject"], base64.b64decode(m["data"]), headers=headers, stream=name, timeout=10)
        if ack.duplicate:
            raise BackupInvalidError(f"{name}: {headers[MSG_ID]} lặp lại", f"{name}: duplicate {headers[MSG_ID]}")
        same_sequences = same_sequences and ack.seq == m["seq"]
        published += 1
    return {"messages": published, "same_sequences": same_sequences}


async def dump_streams(servers: list[str], out_dir: Path, names: list[str]) -> dict[str, Any]:
    """Dump the named streams, one file each, in the order given."""
    nc = await connect(servers)
    try:
        js = nc.jetstream()
        return {name: await dump_stream(js, name, out_dir / f"{name}.jsonl") for name in names}
    finally:
        await nc.close()


async def restore_streams(servers: list[str], backup_dir: Path, manifest: dict[str, Any],
                          replicas: int) -> dict[str, Any]:
    """Declare fresh streams with `replicas` and republish every dump into them."""
    nc = await connect(servers)
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas)
        known = {c.name for c in stream_configs(replicas)}
        result = {}
        for name, entry in manifest.items():
            if name not in known:
                raise BackupInvalidError(f"luồng lạ {name}", f"unknown stream {name}")
            result[name] = await restore_stream(js, name, backup_dir / entry["file"])
        return result
    finally:
        await nc.close()


def run(coro: Any) -> Any:
    """Run a coroutine to completion (the commands are synchronous)."""
    return asyncio.run(coro)

"""`antt verify --all`: every hash chain of every store, and every published event against its store."""

from __future__ import annotations

import tempfile
from pathlib import Path

from antt.messaging.streams import PUBLISHING_SERVICES, stream_name
from antt.ops import streams


def stream_mismatches(service: str, app: object, servers: list[str]) -> list[str]:
    """Messages of a service's stream whose antt-hash differs from the stored event at that position."""
    digests: dict[int, str] = {}
    for n in app.iter_notifications():  # type: ignore[attr-defined]
        event = app.mapper.to_domain_event(n)  # type: ignore[attr-defined]
        digests[n.id] = str(event.__dict__.get("digest", ""))
    problems: list[str] = []
    name = stream_name(service)
    with tempfile.TemporaryDirectory() as tmp:
        streams.run(streams.dump_streams(servers, Path(tmp), [name]))
        for m in streams.read_dump(Path(tmp) / f"{name}.jsonl"):
            position = int(m["headers"].get("antt-position", "0") or 0)
            if position not in digests:
                problems.append(f"{name} seq {m['seq']}: position {position} is not in the {service} store "
                                f"/ vị trí {position} không có trong kho")
            elif m["headers"].get("antt-hash", "") != digests[position]:
                problems.append(f"{name} seq {m['seq']}: antt-hash differs from the stored event at {position} "
                                f"/ mã băm khác sự kiện đã lưu")
    return problems


def publishes(service: str) -> bool:
    """True for services with a stream of their own."""
    return service in PUBLISHING_SERVICES

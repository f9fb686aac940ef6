"""JetStream streams of the system, declared idempotently at start-up."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from antt.contracts import subjects

log = logging.getLogger(__name__)

PUBLISHING_SERVICES: tuple[str, ...] = ("registry", "assessment", "notifications")
DLQ_STREAM = "ANTT_DLQ"
DUPLICATE_WINDOW_SECONDS = 300.0  # ≥ 2 minutes: covers a relay restart after a crash


def stream_name(service: str) -> str:
    """Stream that holds one service's events."""
    return f"ANTT_{service.upper()}"


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    """Configs of every stream: one per publishing service plus the dead-letter stream."""
    common = dict(
        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, discard=DiscardPolicy.OLD,
        num_replicas=replicas, duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )
    configs = [
        StreamConfig(name=stream_name(s), subjects=[subjects.all_of(s)],
                     description=f"Events published by antt {s}", **common)  # type: ignore[arg-type]
        for s in PUBLISHING_SERVICES
    ]
    configs.append(StreamConfig(name=DLQ_STREAM, subjects=[f"{subjects.DLQ_PREFIX}.>"],
                                description="Messages no consumer could apply", **common))  # type: ignore[arg-type]
    return configs


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the streams, or bring an existing stream's config up to date."""
    for config in stream_configs(replicas):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)
        log.debug("stream %s ready", config.name)

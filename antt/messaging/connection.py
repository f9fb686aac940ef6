"""NATS connections that survive a server restart: reconnect forever, log state changes."""

from __future__ import annotations

import logging
from typing import Any

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)

# Keep trying while nats-server restarts; the outbox and redelivery make the gap harmless.
RECONNECT_OPTIONS: dict[str, Any] = {
    "allow_reconnect": True,
    "max_reconnect_attempts": -1,
    "reconnect_time_wait": 0.5,
    "connect_timeout": 5,
    "ping_interval": 5,
    "max_outstanding_pings": 3,
}


async def _on_error(exc: Exception) -> None:
    log.warning("nats: %s", exc)


async def _on_disconnect() -> None:
    log.warning("nats: disconnected, reconnecting")


async def _on_reconnect() -> None:
    log.info("nats: reconnected")


async def connect(servers: list[str], name: str) -> Client:
    """A nats-py client connected to `servers` that reconnects forever."""
    return await nats.connect(
        servers=servers, name=name, error_cb=_on_error, disconnected_cb=_on_disconnect,
        reconnected_cb=_on_reconnect, **RECONNECT_OPTIONS,
    )

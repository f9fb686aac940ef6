"""After a partial batch the relay lingers before reading the next one (more events per batch under a trickle of
commands); after a full batch it reads on at once; with nothing new it waits the poll interval."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import nats
import pytest

from antt.actor import SYSTEM
from antt.eventstore.persistence import create_engine
from antt.messaging.streams import ensure_streams, stream_name
from antt.relay.outbox import OutboxRelay
from antt.runtime.nats_server import NatsServer
from services.registry.application import Registry
from services.registry.published import RegistryPublisher

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("advanced", "expected"), [(0, 0.5), (1, 0.3), (3, 0.3), (4, 0.0), (9, 0.0)])
def test_pause_after_a_batch(tmp_path: Path, advanced: int, expected: float) -> None:
    app = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    relay = OutboxRelay("registry", app, RegistryPublisher(app).to_message, create_engine(f"sqlite:///{tmp_path}/r.db"),
                        nats.NATS(), batch=4, poll_interval=0.5, linger=0.3)
    assert relay.pause_after(advanced) == expected


class _Timed(OutboxRelay):
    """Records when each batch is read and how many notifications it held."""

    reads: list[tuple[float, int]]

    async def _select(self, after: int) -> list[Any]:
        found = await super()._select(after)
        self.reads.append((time.monotonic(), len(found)))
        return found


async def test_relay_lingers_after_a_partial_batch_and_still_publishes_everything(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(url)
    for n in range(5):  # a full batch of 4, then a partial one of 1
        app.register_unit(f"KDC-{n}", f"Thôn {n}", "khu_dan_cu", "01", "00145", SYSTEM)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    engine = create_engine(url)
    relay = _Timed("registry", app, RegistryPublisher(app).to_message, engine, nc, batch=4, poll_interval=0.05,
                   linger=0.4)
    relay.reads = []
    task = asyncio.create_task(relay.run())
    try:
        deadline = time.monotonic() + 20
        while (await js.stream_info(stream_name("registry"))).state.messages < 5:
            assert time.monotonic() < deadline, "the relay did not publish the five events"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)  # past the linger: the read after the partial batch has happened
    finally:
        relay.stop()
        await task
        await nc.close()
        engine.dispose()
    sizes = [n for _, n in relay.reads]
    assert sizes[:3] == [4, 1, 0], sizes
    (after_full, _), (partial, _), (after_partial, _) = relay.reads[:3]
    assert after_partial - partial >= 0.4  # lingered (a lower bound: a loaded machine only lengthens it)
    assert relay.load_position() == 5

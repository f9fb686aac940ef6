"""The outbox relay publishes each position once, with its envelope, and survives a lost cursor."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from antt.actor import SYSTEM
from antt.contracts import envelope
from antt.eventstore.persistence import create_engine
from antt.messaging.streams import ensure_streams, stream_name
from antt.relay.outbox import OutboxRelay
from antt.runtime.nats_server import NatsServer
from services.registry.published import RegistryPublisher
from services.registry.application import Registry

pytestmark = pytest.mark.integration


async def read_all(js: nats.js.JetStreamContext) -> list[nats.aio.msg.Msg]:
    sub = await js.pull_subscribe("antt.registry.>", stream=stream_name("registry"),
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE))
    return await sub.fetch(100, timeout=1)


async def test_relay_publishes_once_per_position_and_a_lost_cursor_is_deduplicated(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(url)
    unit = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", SYSTEM)
    app.register_unit("KDC-2", "Tổ dân phố 3", "khu_dan_cu", "01", "00145", SYSTEM)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    engine = create_engine(url)
    relay = OutboxRelay("registry", app, RegistryPublisher(app).to_message, engine, nc)
    assert await relay.run_once() == 2
    assert relay.load_position() == 2
    # A crash between the acks and the cursor save: the next relay starts from 0 and re-publishes.
    relay.save_position(0)
    again = OutboxRelay("registry", app, RegistryPublisher(app).to_message, engine, nc)
    assert again.position == 0
    assert await again.run_once() == 2
    msgs = await read_all(js)
    assert [m.headers[envelope.MSG_ID] for m in msgs] == ["registry:1", "registry:2"]
    first = envelope.from_headers(msgs[0].headers)
    assert msgs[0].subject == "antt.registry.v1.UnitRegistered.31.11948"
    assert first.type == "antt.registry.v1.UnitRegistered" and first.position == 1
    assert first.subject == str(unit.id) and first.actor == SYSTEM.id
    stored = next(iter(app.events.get(unit.id)))
    assert first.hash == stored.digest and first.prev_hash == ""
    await nc.close()
    engine.dispose()

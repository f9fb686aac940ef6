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
from antt.relay.outbox import OutboxRelay, OutgoingMessage
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
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


class _LosesOnePipelined(OutboxRelay):
    """A relay whose pipelined publish of one message id is rejected by the server."""

    lost_id = ""

    def header_block(self, message: OutgoingMessage, previous: str, stream: str) -> bytes:
        block = super().header_block(message, previous, stream)
        if message.envelope.id == self.lost_id:  # the server refuses to store it
            block = block[:-2] + b"Nats-Expected-Last-Sequence: 999999\r\n\r\n"
        return block


async def test_a_message_lost_inside_a_pipelined_batch_never_lets_later_ones_overtake_it(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(url)
    for i in range(5):
        app.register_unit(f"KDC-{i}", f"Thôn {i}", "khu_dan_cu", "01", "00145", SYSTEM)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    engine = create_engine(url)
    relay = _LosesOnePipelined("registry", app, RegistryPublisher(app).to_message, engine, nc, publish_timeout=0.5)
    relay.lost_id = "registry:3"
    # 1 and 2 are acknowledged; 3 is refused, so 4 and 5 (chained to 3) are refused too, then 3–5 go one at a time.
    assert await relay.publish_pipelined([(n.id, relay.outgoing(n)) for n in
                                          app.recorder.select_notifications(start=1, limit=10)]) == 2
    assert await relay.run_once() == 5 and relay.load_position() == 5
    msgs = await read_all(js)
    assert [m.headers[envelope.MSG_ID] for m in msgs] == [f"registry:{i}" for i in range(1, 6)]
    assert [m.metadata.sequence.stream for m in msgs] == [1, 2, 3, 4, 5]
    await nc.close()
    engine.dispose()


async def _stored(server: NatsServer) -> list[tuple[str, dict[str, str], bytes]]:
    nc = await nats.connect(server.url)
    msgs = await read_all(nc.jetstream())
    await nc.close()
    return [(m.subject, dict(m.headers or {}), m.data) for m in msgs]


async def test_the_pipelined_messages_are_the_ones_nats_py_would_send_from_the_header_dicts(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(url)
    unit = app.register_unit("KDC-1", "Thôn Đông", "khu_dan_cu", "31", "11948", SYSTEM, household_count=120)
    app.register_unit("KDC-2", "Tổ dân phố 3", "khu_dan_cu", "01", "00145", SYSTEM)
    app.close_unit(unit.id, "dissolved", unit.effective_date, SYSTEM)
    engine = create_engine(url)
    # The relay's own encoding, into one server.
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    relay = OutboxRelay("registry", app, RegistryPublisher(app).to_message, engine, nc)
    assert await relay.run_once() == 4
    await nc.close()
    # nats-py's encoding of the header dicts (the pipeline as it was), into another.
    other = NatsServer(free_port(), tmp_path / "other-store").start()
    try:
        nc = await nats.connect(other.url)
        js = nc.jetstream()
        await ensure_streams(js)
        previous, futures = "", []
        for n in app.recorder.select_notifications(start=1, limit=10):
            message = relay.outgoing(n)
            assert message is not None
            headers = message.headers
            if previous:
                headers[envelope.EXPECTED_LAST_MSG_ID] = previous
            futures.append(await js.publish_async(message.subject, message.data, headers=headers,
                                                  stream=stream_name("registry")))
            previous = headers[envelope.MSG_ID]
        for future in futures:
            await future
        await nc.close()
        expected = await _stored(other)
    finally:
        other.stop()
    published = await _stored(nats_server)
    assert len(published) == 4 and published == expected
    engine.dispose()

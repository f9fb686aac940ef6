"""A redelivered message is a no-op at the projection: the tracking row makes it exactly-once."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig

from antt.actor import SYSTEM
from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import ConsumerOptions, Outcome, ProjectionConsumer
from antt.messaging.streams import ensure_streams, stream_name
from antt.relay.outbox import OutboxRelay
from antt.runtime.nats_server import NatsServer
from services.registry.published import RegistryPublisher
from services.registry.application import Registry
from services.reporting import projections
from services.reporting.consumers import FROM_REGISTRY

pytestmark = pytest.mark.integration


async def fetch_all(js: nats.js.JetStreamContext) -> list[nats.aio.msg.Msg]:
    sub = await js.pull_subscribe("antt.registry.>", stream=stream_name("registry"),
                                  config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    return await sub.fetch(10, timeout=1)


async def test_redelivered_messages_change_nothing(tmp_path: Path, nats_server: NatsServer) -> None:
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(registry_url)
    for i, (p, c) in enumerate([("31", "11948"), ("01", "00145"), ("01", "00004")]):
        app.register_unit(f"U-{i}", f"Đơn vị {i}", "co_quan", p, c, SYSTEM)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    await OutboxRelay("registry", app, RegistryPublisher(app).to_message, create_engine(registry_url), nc).run_once()

    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    consumer = ProjectionConsumer(FROM_REGISTRY, engine, nc, ConsumerOptions())
    assert await consumer.process(await fetch_all(js)) == [Outcome.APPLIED] * 3
    # The same messages again, as a redelivery after a crash before the ack would bring them.
    assert await consumer.process(await fetch_all(js)) == [Outcome.DUPLICATE] * 3
    with engine.connect() as conn:
        assert projections.unit_counts(conn) == [("01", 2), ("31", 1)]
        assert conn.execute(sa.select(sa.func.count()).select_from(projections.units)).scalar() == 3
    await nc.close()

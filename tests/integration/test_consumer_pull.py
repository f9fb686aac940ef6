"""The consumer's own pull loop: many small batches drain a stream, every message is acknowledged, and
after its durable consumer is deleted it binds again and the redelivered messages change nothing."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import nats
import nats.js.errors
import pytest
import sqlalchemy as sa

from antt.common.v1 import actor_pb2 as common_pb
from antt.contracts import envelope, subjects, types
from antt.eventstore.persistence import create_engine
from antt.events.v1 import registry_pb2 as rpb
from antt.messaging.consumer import ConsumerOptions, ProjectionConsumer
from antt.messaging.streams import ensure_streams, stream_name
from antt.messaging.tracking import tracking
from antt.runtime.nats_server import NatsServer
from antt.testing.wait import async_wait_until
from services.reporting import projections
from services.reporting.consumers import FROM_REGISTRY

pytestmark = pytest.mark.integration

PROVINCES = ("01", "31", "79")


async def publish_units(js: nats.js.JetStreamContext, first: int, count: int) -> None:
    """UnitRegistered events at positions first…first+count-1, as the registry's relay publishes them."""
    for position in range(first, first + count):
        unit_id = str(uuid.UUID(int=position))
        province = PROVINCES[position % len(PROVINCES)]
        payload = rpb.UnitRegistered(
            unit_id=unit_id, code=f"U-{position}", name=f"Đơn vị {position}", unit_type="co_quan",
            province_code=province, commune_code="00004", eligibility=rpb.Eligibility(eligible=True),
            meta=common_pb.EventMeta(effective_date="2026-01-10", aggregate_id=unit_id, aggregate_version=1))
        env = envelope.new("registry", position, types.ce_type("registry", payload), "2026-01-10T00:00:00+00:00",
                           unit_id)
        await js.publish(subjects.for_event("registry", "UnitRegistered", province, "00004"),
                         payload.SerializeToString(), headers=envelope.headers_for(env))


async def test_pull_loop_drains_in_batches_and_binds_again(tmp_path: Path, nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    await publish_units(js, 1, 50)
    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    consumer = ProjectionConsumer(FROM_REGISTRY, engine, nc, ConsumerOptions(batch=7, fetch_timeout=0.3))

    def applied() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(tracking)).scalar() or 0)

    async def settled(expected: int) -> bool:
        try:
            info = await js.consumer_info(stream_name("registry"), FROM_REGISTRY.name)
        except nats.js.errors.NotFoundError:  # not created yet, or deleted and not yet created again
            return False
        return applied() == expected and info.num_pending == 0 and info.num_ack_pending == 0

    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    try:
        # More messages than one batch, all applied and acknowledged.
        await async_wait_until(lambda: settled(50), timeout=30, message="50 applied and acked")
        # The durable consumer disappears (an operator's rebuild): the loop creates it again, gets every
        # message redelivered from the start and applies only the new ones.
        await js.delete_consumer(stream_name("registry"), FROM_REGISTRY.name)
        await publish_units(js, 51, 5)
        await async_wait_until(lambda: settled(55), timeout=30, message="55 applied and acked after rebind")
    finally:
        stopping.set()
        await asyncio.wait_for(task, 10)
        await nc.close()
    with engine.connect() as conn:
        assert projections.unit_counts(conn) == [("01", 18), ("31", 19), ("79", 18)]

"""The consumer's own pull loop: many small batches drain a stream, every message is acknowledged, and
after its durable consumer is deleted it binds again and the redelivered messages change nothing. Its raw
deliveries decode exactly as nats-py's messages do, and one ack write per batch acknowledges each of them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import nats
import nats.js.errors
import pytest
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig

from antt.common.v1 import actor_pb2 as common_pb
from antt.contracts import envelope, subjects, types
from antt.eventstore.persistence import create_engine
from antt.events.v1 import registry_pb2 as rpb
from antt.messaging.consumer import (ConsumerOptions, Delivery, Outcome, ProjectionConsumer, Puller, ack_deliveries, decode,
                                     read_stream, stream_position)
from antt.messaging.raw import RawMessage
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


async def test_raw_deliveries_decode_like_nats_py_messages_and_one_ack_write_acks_them_all(
        nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    await publish_units(js, 1, 30)
    stream = stream_name("registry")
    try:
        # nats-py's own path: Msg objects with parsed header dicts.
        sub = await js.pull_subscribe("antt.registry.>", stream=stream,
                                      config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        expected = [decode(m) for m in await sub.fetch(30, timeout=5)]
        await sub.unsubscribe()
        # The consumers' path: raw pulls taken from the protocol parser, acked in one write per batch.
        await js.add_consumer(stream, ConsumerConfig(durable_name="raw-check", ack_policy=AckPolicy.EXPLICIT,
                                                     filter_subject="antt.registry.>", ack_wait=30))
        puller = Puller(nc, stream, "raw-check", batch=8, expires=1.0)
        await puller.start()
        got: list[Delivery] = []
        while len(got) < 30:
            msgs = await puller.fetch()
            assert all(isinstance(m, RawMessage) for m in msgs)
            await ack_deliveries(nc, msgs)
            got.extend(msgs)
        await puller.stop()
        assert [decode(m) for m in got] == expected
        assert [stream_position(m)[0] for m in got] == list(range(1, 31))
        failed = got[0].to_msg(nc)  # what the nak / dead-letter path gets
        assert failed.metadata.sequence.stream == 1 and failed.headers == envelope.headers_for(expected[0].envelope)

        async def all_acked() -> bool:
            info = await js.consumer_info(stream, "raw-check")
            return info.num_ack_pending == 0 and info.num_pending == 0 and info.delivered.stream_seq == 30

        await async_wait_until(all_acked, timeout=10, message="every delivery acknowledged")
        # A one-off read (ephemeral consumer, several filters) returns the matching messages in stream order.
        filters = [subjects.filter_for("registry", "*", p) for p in ("01", "79")]
        read = [m async for batch in read_stream(nc, stream, filters, last=24, batch=4) for m in batch]
        assert [decode(m) for m in read] == [e for e in expected[:24] if e.subject.province_code in ("01", "79")]
    finally:
        await nc.close()


class _Timed(ProjectionConsumer):
    """Records when each batch is processed and how many messages it held."""

    processed: list[tuple[float, float, int]]

    async def process(self, msgs: Sequence[Delivery]) -> list[Outcome]:
        began = time.monotonic()
        outcomes = await super().process(msgs)
        self.processed.append((began, time.monotonic(), len(msgs)))
        return outcomes


async def test_consumer_lingers_after_a_partial_batch(tmp_path: Path, nats_server: NatsServer) -> None:
    """After a batch smaller than its size the loop waits `linger` before applying the next one, so a trickle of
    events is applied in fewer, larger batches; everything is still applied."""
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js)
    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")
    consumer = _Timed(FROM_REGISTRY, engine, nc, ConsumerOptions(batch=50, fetch_timeout=0.3, linger=0.5))
    consumer.processed = []

    async def applied(n: int) -> bool:
        return sum(k for *_, k in consumer.processed) == n

    stopping = asyncio.Event()
    task = asyncio.create_task(consumer.run(stopping))
    try:
        await publish_units(js, 1, 1)
        await async_wait_until(lambda: applied(1), timeout=30, message="the first event applied")
        await publish_units(js, 2, 3)  # arrive while the consumer lingers
        await async_wait_until(lambda: applied(4), timeout=30, message="four events applied")
    finally:
        stopping.set()
        await task
        await nc.close()
    (_, first_done, first), (second_began, _, second) = consumer.processed[:2]
    assert (first, second) == (1, 3), consumer.processed
    assert second_began - first_done >= 0.5  # lingered (a lower bound: a loaded machine only lengthens it)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tracking)).scalar() == 4
    engine.dispose()

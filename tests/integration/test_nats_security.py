"""A real nats-server on the generated config: agencies see only their province and cannot publish."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from antt.contracts import envelope, subjects
from antt.messaging.natsconfig import NatsAuthStore, new_agency, write_config
from antt.messaging.streams import ensure_streams
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.testing.wait import async_wait_until

pytestmark = pytest.mark.integration

A, B = "31", "01"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[NatsServer, dict[str, str], dict]]:
    store = NatsAuthStore(tmp_path / "data")
    creds_file = store.add_agency(new_agency("so-gd-hp", f"province:{A}"))
    port = free_port()
    secured = write_config(tmp_path / "data", port=port)
    server = NatsServer(port, tmp_path / "nats-store", log_file=tmp_path / "nats.log",
                        extra_args=["-c", str(secured.config_path)]).start()
    yield server, secured.service_urls, json.loads(creds_file.read_text(encoding="utf-8"))
    server.stop()


async def publish_event(nc: Client, province: str, commune: str, position: int) -> None:
    subject = subjects.for_event("registry", "UnitRegistered", province, commune)
    env = envelope.new("registry", position, "antt.registry.v1.UnitRegistered", "2026-01-01T00:00:00Z",
                       f"unit-{position}")
    await nc.jetstream().publish(subject, f"payload-{position}".encode(), headers=envelope.headers_for(env))


@pytest.fixture
async def registry_nc(secured: tuple[NatsServer, dict[str, str], dict]) -> AsyncIterator[Client]:
    _server, urls, _creds = secured
    nc = await nats.connect(urls["registry"])
    await ensure_streams(nc.jetstream())
    yield nc
    await nc.close()


async def test_agency_receives_its_province_only_cannot_publish_and_replays(
        secured: tuple[NatsServer, dict[str, str], dict], registry_nc: Client) -> None:
    server, _urls, creds = secured
    await publish_event(registry_nc, A, "11948", 1)
    await publish_event(registry_nc, B, "00145", 2)
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    agency = await nats.connect(server.url, user=creds["user"], password=creds["password"],
                                inbox_prefix=creds["inbox_prefix"], error_cb=on_error)
    try:
        sub_a = await agency.subscribe(subjects.filter_for("registry", "*", A))
        sub_b = await agency.subscribe(subjects.filter_for("registry", "*", B))
        await agency.flush()
        await async_wait_until(lambda: _has(errors, "subscription"), message="subscription to B refused")

        await agency.publish(subjects.for_event("registry", "UnitRegistered", A, "11948"), b"forged")
        await agency.flush()
        await async_wait_until(lambda: _has(errors, "publish"), message="publish refused")
        with pytest.raises(Exception):  # noqa: B017,PT011 - refused publish: no ack ever comes
            await agency.jetstream().publish(subjects.for_event("registry", "UnitRegistered", A, "1"), b"x",
                                             timeout=1)

        await publish_event(registry_nc, B, "00146", 3)
        await publish_event(registry_nc, A, "11950", 4)
        live = await sub_a.next_msg(timeout=10)
        assert live.subject == "antt.registry.v1.UnitRegistered.31.11950"
        assert sub_b.pending_msgs == 0  # B's event went out before A's and never arrived

        # Replay from the start with the agency's own durable consumer (created by the agency).
        grant = next(c for c in creds["consumers"] if c["stream"] == "ANTT_REGISTRY")
        js = agency.jetstream()
        await js.add_consumer(grant["stream"], ConsumerConfig(
            name=grant["durable"], durable_name=grant["durable"], filter_subject=grant["filter_subject"],
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT))
        sub = await js.pull_subscribe_bind(grant["durable"], grant["stream"])
        msgs = await sub.fetch(10, timeout=5)
        for m in msgs:
            await m.ack()
        assert [m.headers["ce-id"] for m in msgs] == ["registry:1", "registry:4"]
        assert all(m.subject.split(".")[4] == A for m in msgs)

        # It cannot widen the filter to B, nor read someone else's consumer.
        with pytest.raises(Exception):  # noqa: B017,PT011
            await js.add_consumer(grant["stream"], ConsumerConfig(
                name=grant["durable"] + "-b", durable_name=grant["durable"] + "-b",
                filter_subject=subjects.filter_for("registry", "*", B)), timeout=1)
        await registry_nc.jetstream().add_consumer("ANTT_REGISTRY", ConsumerConfig(
            name="assessment-from-registry", durable_name="assessment-from-registry",
            ack_policy=AckPolicy.EXPLICIT))
        other = await registry_nc.jetstream().consumer_info("ANTT_REGISTRY", "assessment-from-registry")
        assert other.num_pending == 4
        with pytest.raises(Exception):  # noqa: B017,PT011
            stolen = await js.pull_subscribe_bind("assessment-from-registry", "ANTT_REGISTRY")
            await stolen.fetch(1, timeout=1)
        info = await registry_nc.jetstream().stream_info("ANTT_REGISTRY")
        assert info.state.messages == 4  # nothing the agency sent was stored
    finally:
        await agency.close()


async def _has(errors: list[str], word: str) -> bool:
    await asyncio.sleep(0)
    return any("permissions violation" in e.lower() and word in e.lower() for e in errors)


async def test_event_scoped_agency_and_services_under_the_secured_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    creds_file = NatsAuthStore(data).add_agency(new_agency("cong-an-hp", f"province:{A}", ["UnitRegistered"]))
    port = free_port()
    secured = write_config(data, port=port)
    server = NatsServer(port, tmp_path / "nats-store", log_file=tmp_path / "nats.log",
                        extra_args=["-c", str(secured.config_path)]).start()
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    registry = await nats.connect(secured.service_urls["registry"])
    assessment = await nats.connect(secured.service_urls["assessment"], error_cb=on_error)
    creds = json.loads(creds_file.read_text(encoding="utf-8"))
    agency = await nats.connect(server.url, user=creds["user"], password=creds["password"],
                                inbox_prefix=creds["inbox_prefix"], error_cb=on_error)
    try:
        await ensure_streams(registry.jetstream())
        await publish_event(registry, A, "11948", 1)
        closed = envelope.new("registry", 2, "antt.registry.v1.UnitClosed", "2026-01-02T00:00:00Z", "unit-1")
        await registry.jetstream().publish(subjects.for_event("registry", "UnitClosed", A, "11948"), b"closed",
                                           headers=envelope.headers_for(closed))
        # The agency sees UnitRegistered of A, never UnitClosed.
        await agency.subscribe(subjects.filter_for("registry", "UnitClosed", A))
        await agency.flush()
        await async_wait_until(lambda: _has(errors, "subscription"), message="UnitClosed refused")
        (grant,) = creds["consumers"]
        js = agency.jetstream()
        await js.add_consumer(grant["stream"], ConsumerConfig(
            name=grant["durable"], durable_name=grant["durable"], filter_subject=grant["filter_subject"],
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT))
        msgs = await (await js.pull_subscribe_bind(grant["durable"], grant["stream"])).fetch(10, timeout=5)
        assert [m.headers["ce-type"] for m in msgs] == ["antt.registry.v1.UnitRegistered"]

        # A service consumes with a durable pull consumer and dead-letters, but cannot forge registry events.
        ajs = assessment.jetstream()
        sub = await ajs.pull_subscribe(subjects.all_of("registry"), durable="assessment-from-registry",
                                       stream="ANTT_REGISTRY")
        got = await sub.fetch(10, timeout=5)
        for m in got:
            await m.ack()
        assert len(got) == 2
        await ajs.publish(subjects.dlq("assessment-from-registry"), b"bad", stream="ANTT_DLQ")
        await assessment.publish(subjects.for_event("registry", "UnitRegistered", A, "11948"), b"forged")
        await assessment.flush()
        await async_wait_until(lambda: _has(errors, "publish"), message="service publish refused")
        assert (await registry.jetstream().stream_info("ANTT_REGISTRY")).state.messages == 2
        assert (await registry.jetstream().stream_info("ANTT_DLQ")).state.messages == 1
    finally:
        for nc in (agency, assessment, registry):
            await nc.close()
        server.stop()

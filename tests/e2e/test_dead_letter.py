"""A poison message goes to antt.dlq.<consumer> after N deliveries; later messages still flow."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from antt.contracts import envelope, subjects
from antt.messaging.streams import DLQ_STREAM, ensure_streams
from antt.runtime.nats_server import NatsServer
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_until
from tests.e2e.pipeline_support import Observer, append_units

pytestmark = pytest.mark.e2e

MAX_DELIVER = 3
CONSUMER = "reporting-from-registry"


async def publish_poison(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js)
    env = envelope.new("registry", 999_999, "antt.registry.v1.UnitRegistered", "2026-01-01T00:00:00+00:00", "x")
    await js.publish(subjects.for_event("registry", "UnitRegistered", "01", "00070"), b"\xff\xfe not protobuf",
                     headers=envelope.headers_for(env))
    await nc.close()


async def dead_letters(url: str) -> list[nats.aio.msg.Msg]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(subjects.dlq(CONSUMER), stream=DLQ_STREAM,
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE))
    try:
        return await sub.fetch(10, timeout=1)
    except (nats.errors.TimeoutError, asyncio.TimeoutError):
        return []
    finally:
        await nc.close()


def metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_poison_message_is_dead_lettered_and_the_stream_keeps_flowing(tmp_path: Path,
                                                                      nats_server: NatsServer) -> None:
    urls = {s: f"sqlite:///{tmp_path / f'{s}.db'}" for s in ("registry", "reporting")}
    env = service_env(tmp_path, nats_server.url, ANTT_REGISTRY_DATABASE_URL=urls["registry"],
                   ANTT_REPORTING_DATABASE_URL=urls["reporting"], ANTT_CONSUMER_MAX_DELIVER=str(MAX_DELIVER))
    metrics_port = int(env["ANTT_REPORTING_METRICS_PORT"])
    # The poison message is first in the stream; valid events come after it.
    asyncio.run(publish_poison(nats_server.url))
    appended = append_units(urls["registry"], 50)
    reporting = ServiceProcess(["serve", "reporting"], env, tmp_path / "reporting.log").start()
    relay = ServiceProcess(["relay", "registry"], env, tmp_path / "relay.log").start()
    observer = Observer(urls["registry"], urls["reporting"])
    try:
        wait_until(lambda: observer.applied() == 50, timeout=60, message="valid events applied")
        letters = wait_until(lambda: asyncio.run(dead_letters(nats_server.url)), timeout=30, message="DLQ message")
        assert len(letters) == 1
        headers = letters[0].headers or {}
        assert headers["antt-dlq-consumer"] == CONSUMER
        assert headers["antt-dlq-deliveries"] == str(MAX_DELIVER)
        assert headers["antt-dlq-subject"] == "antt.registry.v1.UnitRegistered.01.00070"
        assert "DecodeError" in headers["antt-dlq-error"]
        assert letters[0].data == b"\xff\xfe not protobuf"
        assert wait_until(lambda: metric(metrics_port, f'antt_consumer_dead_letters_total{{consumer="{CONSUMER}"}}'),
                          timeout=10) == 1.0
        assert set(observer.unit_ids()) == appended.unit_ids
        assert 999_999 not in observer.positions()
    finally:
        relay.stop()
        reporting.stop()
        observer.close()

"""10,000 registry events reach reporting exactly once through crashes of every moving part.

Real processes (`antt relay registry`, `antt serve reporting`), a real nats-server with JetStream,
real SQLite files or PostgreSQL databases. Nothing is mocked.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from antt.runtime.nats_server import NatsServer
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_settled, wait_until
from tests.e2e.pipeline_support import Appended, Observer, append_units, stream_message_ids, stream_state

pytestmark = pytest.mark.e2e

EVENTS = 10_000


class Pipeline:
    """Registry relay + reporting consumer as processes around one nats-server."""

    def __init__(self, tmp_path: Path, nats: NatsServer, urls: dict[str, str]) -> None:
        self.nats = nats
        self.env = service_env(tmp_path, nats.url, ANTT_REGISTRY_DATABASE_URL=urls["registry"],
                            ANTT_REPORTING_DATABASE_URL=urls["reporting"], ANTT_CONSUMER_BATCH="100")
        self.relay = ServiceProcess(["relay", "registry"], self.env, tmp_path / "relay.log")
        self.reporting = ServiceProcess(["serve", "reporting"], self.env, tmp_path / "reporting.log")
        self.observer = Observer(urls["registry"], urls["reporting"])
        self.appended: Appended = append_units(urls["registry"], EVENTS)

    def wait_complete(self, timeout: float = 240) -> None:
        wait_until(lambda: self.observer.applied() >= EVENTS, timeout=timeout, interval=0.2,
                   message=f"{EVENTS} events applied by reporting")

    def assert_exactly_once(self) -> None:
        """Counts and identities match; no duplicates, no gaps, in the stream or the projection."""
        assert self.appended.last_position == EVENTS
        assert self.observer.positions() == list(range(1, EVENTS + 1))
        unit_ids = self.observer.unit_ids()
        assert len(unit_ids) == EVENTS and set(unit_ids) == self.appended.unit_ids
        assert self.observer.per_province() == self.appended.per_province
        assert sum(self.observer.per_province().values()) == EVENTS
        messages, last_seq = stream_state(self.nats.url)
        assert (messages, last_seq) == (EVENTS, EVENTS)
        assert stream_message_ids(self.nats.url) == [f"registry:{p}" for p in range(1, EVENTS + 1)]

    def close(self) -> None:
        for p in (self.relay, self.reporting):
            p.stop()
        self.observer.close()


@pytest.fixture
def pipeline(tmp_path: Path, nats_server: NatsServer, database_urls: dict[str, str]) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path, nats_server, database_urls)
    yield p
    p.close()


def test_relay_killed_mid_batch_then_restarted(pipeline: Pipeline) -> None:
    pipeline.reporting.start()
    pipeline.relay.start()
    # Kill while the relay has published past its saved cursor: the unsaved tail must be re-published.
    observed: dict[str, int] = {}

    def mid_batch() -> bool:
        saved = pipeline.observer.relay_position()
        _, last_seq = stream_state(pipeline.nats.url)
        observed.update(saved=saved, published=last_seq)
        return 1000 <= saved < EVENTS - 1000 and last_seq > saved + 10

    wait_until(mid_batch, timeout=120, interval=0.01, message="relay in the middle of a batch")
    pipeline.relay.kill(signal.SIGKILL)
    saved_at_kill = pipeline.observer.relay_position()
    assert saved_at_kill < EVENTS
    pipeline.relay.start()
    pipeline.wait_complete()
    wait_until(lambda: pipeline.observer.relay_position() == EVENTS, message="relay caught up")
    pipeline.assert_exactly_once()


def test_consumer_killed_mid_batch_then_restarted(pipeline: Pipeline) -> None:
    pipeline.relay.start()
    pipeline.reporting.start()
    wait_until(lambda: 1000 <= pipeline.observer.applied() < EVENTS - 2000, timeout=120, interval=0.01,
               message="reporting in the middle of the stream")
    pipeline.reporting.kill(signal.SIGKILL)
    applied_at_kill = pipeline.observer.applied()
    assert applied_at_kill < EVENTS
    pipeline.reporting.start()
    pipeline.wait_complete()
    pipeline.assert_exactly_once()


def test_nats_server_restarted_mid_stream(pipeline: Pipeline) -> None:
    pipeline.relay.start()
    pipeline.reporting.start()
    wait_until(lambda: 1000 <= pipeline.observer.applied() < EVENTS - 2000, timeout=120, interval=0.01,
               message="reporting in the middle of the stream")
    pipeline.nats.stop()
    # A batch fetched before the stop may still commit (its acks fail, so it comes back and is skipped by
    # its tracking rows); after it, nothing more is applied while the server is away.
    applied_while_down = wait_settled(pipeline.observer.applied, quiet=1.0, timeout=30, message="applied")
    assert applied_while_down < EVENTS
    pipeline.nats.start()
    pipeline.wait_complete()
    assert pipeline.relay.alive() and pipeline.reporting.alive()
    pipeline.assert_exactly_once()

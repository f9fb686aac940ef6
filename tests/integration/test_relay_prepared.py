"""The relay reads and maps its next batch while the acks of the current one come back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import nats
import pytest

from antt.actor import SYSTEM
from antt.contracts import envelope
from antt.eventstore.persistence import create_engine
from antt.messaging.streams import ensure_streams
from antt.relay.outbox import OutboxRelay, OutgoingMessage
from antt.runtime.nats_server import NatsServer
from services.registry.application import Registry
from services.registry.published import RegistryPublisher
from tests.integration.test_relay import read_all

pytestmark = pytest.mark.integration


class _Recording(OutboxRelay):
    """Counts the mappings of each position and records the positions of each pipelined batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mapped: Counter[int] = Counter()
        self.batches: list[list[int]] = []
        self.fail_saves = 0
        self.mapped_during_acks: list[int] = []
        self._publishing = False

    def outgoing(self, notification: Any) -> OutgoingMessage | None:
        self.mapped[notification.id] += 1
        if self._publishing:
            self.mapped_during_acks.append(notification.id)
        return super().outgoing(notification)

    async def publish_pipelined(self, pending: list[tuple[int, OutgoingMessage | None]], meanwhile: Any = None) -> int:
        self.batches.append([position for position, _ in pending])
        self._publishing = True
        try:
            return await super().publish_pipelined(pending, meanwhile)
        finally:
            self._publishing = False

    def save_position(self, position: int) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise OSError("disk full")
        super().save_position(position)


async def test_each_position_is_mapped_once_and_published_in_order_across_prepared_batches(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(url)
    for i in range(7):
        app.register_unit(f"KDC-{i}", f"Thôn {i}", "khu_dan_cu", "01", "00145", SYSTEM, household_count=i or None)
    last = app.recorder.max_notification_id()
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    engine = create_engine(url)
    relay = _Recording("registry", app, RegistryPublisher(app).to_message, engine, nc, batch=3)
    advanced = 0
    while step := await relay.run_once():
        advanced += step
    assert advanced == last == 13 and relay.load_position() == last
    # Every batch after the first was mapped during the previous one's acks, and no position twice.
    assert relay.mapped == Counter(range(1, last + 1))
    assert relay.mapped_during_acks == list(range(4, last + 1))
    assert relay.batches == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [13]]
    msgs = await read_all(nc.jetstream())
    assert [m.headers[envelope.MSG_ID] for m in msgs] == [f"registry:{i}" for i in range(1, last + 1)]
    await nc.close()
    engine.dispose()


async def test_a_batch_prepared_for_a_cursor_that_was_not_saved_is_read_again(
        tmp_path: Path, nats_server: NatsServer) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    app = Registry(url)
    for i in range(4):
        app.register_unit(f"KDC-{i}", f"Thôn {i}", "khu_dan_cu", "01", "00145", SYSTEM)
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    engine = create_engine(url)
    relay = _Recording("registry", app, RegistryPublisher(app).to_message, engine, nc, batch=2)
    relay.fail_saves = 1
    with pytest.raises(OSError):
        await relay.run_once()  # 1–2 acknowledged, 3–4 prepared, the cursor not saved
    assert relay.position == 0
    while await relay.run_once():
        pass
    # The batch after the unsaved cursor is 1–2 again (not the prepared 3–4), republished as duplicates
    # (so the rest goes one at a time, outside the pipeline).
    assert relay.batches[:2] == [[1, 2], [1, 2]]
    assert relay.load_position() == 4
    msgs = await read_all(nc.jetstream())
    assert [m.headers[envelope.MSG_ID] for m in msgs] == [f"registry:{i}" for i in range(1, 5)]
    await nc.close()
    engine.dispose()

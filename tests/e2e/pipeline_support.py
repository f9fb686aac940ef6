"""What the pipeline tests share: appending registry events, reading reporting's state and the stream."""

from __future__ import annotations

import asyncio
import collections
import itertools
from dataclasses import dataclass

import nats
import nats.js.errors
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig

from antt.actor import SYSTEM
from antt.eventstore.persistence import create_engine
from antt.messaging.streams import stream_name
from antt.messaging.tracking import relay_position, tracking
from services.registry import reference
from services.registry.application import Registry
from services.reporting import projections

CONSUMER = "reporting-from-registry"


@dataclass
class Appended:
    """What the test wrote to the registry: unit ids and the expected count per province."""

    unit_ids: set[str]
    per_province: dict[str, int]
    last_position: int


def append_units(registry_url: str, count: int, batch: int = 500) -> Appended:
    """Register `count` units spread over every official commune, straight into the registry store."""
    app = Registry(registry_url)
    communes = itertools.cycle(sorted(reference.communes().values(), key=lambda a: a.code))
    ids: set[str] = set()
    per_province: collections.Counter[str] = collections.Counter()
    for start in range(0, count, batch):
        units = []
        for i in range(start, min(start + batch, count)):
            c = next(communes)
            units.append(app.new_unit(f"T-{i:06d}", f"Thôn thử nghiệm {i}", "khu_dan_cu", c.province_code, c.code,
                                      SYSTEM))
            per_province[c.province_code] += 1
        app.save_new(*units)
        ids.update(str(u.id) for u in units)
    last = app.recorder.max_notification_id() or 0
    app.close()
    return Appended(ids, dict(per_province), last)


class Observer:
    """Read-only views of the registry and reporting databases used to decide when to crash things."""

    def __init__(self, registry_url: str, reporting_url: str) -> None:
        self.registry = create_engine(registry_url)
        self.reporting = create_engine(reporting_url)

    def relay_position(self) -> int:
        """The relay's saved cursor (0 before its first save)."""
        with self.registry.connect() as conn:
            if not sa.inspect(conn).has_table(relay_position.name):
                return 0
            return int(conn.execute(sa.select(relay_position.c.position)).scalar() or 0)

    def applied(self) -> int:
        """How many positions the reporting consumer has applied."""
        with self.reporting.connect() as conn:
            if not sa.inspect(conn).has_table(tracking.name):
                return 0
            return int(conn.execute(sa.select(sa.func.count()).select_from(tracking)
                                    .where(tracking.c.consumer == CONSUMER)).scalar() or 0)

    def positions(self) -> list[int]:
        """Every applied position, sorted."""
        with self.reporting.connect() as conn:
            rows = conn.execute(sa.select(tracking.c.position).where(tracking.c.consumer == CONSUMER)
                                .order_by(tracking.c.position))
            return [int(r[0]) for r in rows]

    def unit_ids(self) -> list[str]:
        """Unit ids in reporting's per-unit table."""
        with self.reporting.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(projections.units.c.unit_id))]

    def per_province(self) -> dict[str, int]:
        """Reporting's province counts."""
        with self.reporting.connect() as conn:
            return dict(projections.unit_counts(conn))

    def close(self) -> None:
        """Release connections."""
        self.registry.dispose()
        self.reporting.dispose()


def stream_state(nats_url: str, service: str = "registry") -> tuple[int, int]:
    """(messages, last sequence) of a service's stream."""

    async def read() -> tuple[int, int]:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(stream_name(service))
            return info.state.messages, info.state.last_seq
        except nats.js.errors.NotFoundError:
            return 0, 0  # not declared yet: no process has started
        finally:
            await nc.close()

    return asyncio.run(read())


def stream_message_ids(nats_url: str, service: str = "registry") -> list[str]:
    """Nats-Msg-Id of every message in the stream, in stream order."""

    async def read() -> list[str]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        try:
            sub = await js.pull_subscribe(f"antt.{service}.>", stream=stream_name(service),
                                          config=ConsumerConfig(ack_policy=AckPolicy.NONE))
            ids: list[str] = []
            while True:
                try:
                    msgs = await sub.fetch(500, timeout=1)
                except (nats.errors.TimeoutError, asyncio.TimeoutError):
                    return ids
                ids.extend((m.headers or {}).get("Nats-Msg-Id", "") for m in msgs)
        finally:
            await nc.close()

    return asyncio.run(read())

"""Raw limits of the parts on this machine, with the event sizes of the run: JetStream publish with
acks and Msg-Id (sequential like the relay, publish_async, hand-pipelined), JetStream pull-consume (nats-py's
fetch, and the consumers' own raw pull), and batched inserts into SQLite (and PostgreSQL, plus COPY)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import nats
import psycopg
import sqlalchemy as sa
from nats.js.api import (AckPolicy, ConsumerConfig, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType,
                         StreamConfig)

from antt.bench.country import SyntheticUnit
from antt.bench.results import Measurement, progress, rate
from antt.contracts import envelope
from antt.eventstore.persistence import create_engine
from antt.messaging.consumer import ConsumerOptions, Puller, ack_deliveries
from antt.messaging.streams import DUPLICATE_WINDOW_SECONDS
from antt.settings import CommonSettings

RAW_STREAM = "BENCH_RAW"
PIPELINE_WINDOW = 256
INSERT_BATCH = 1000


@dataclass(frozen=True)
class Sample:
    """A message as the relay published it: subject, payload and headers."""

    subject: str
    data: bytes
    headers: dict[str, str]


async def sample_messages(nats_url: str, stream: str, subject: str, count: int = 200) -> list[Sample]:
    """The first `count` messages of a stream (read without acks)."""
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(subject, stream=stream,
                                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE))
        msgs = await sub.fetch(count, timeout=5)
        # The relay's ordering expectations (Nats-Expected-*) belong to the original stream, not the raw one.
        return [Sample(m.subject, m.data, {k: v for k, v in (m.headers or {}).items()
                                           if not k.startswith("Nats-Expected")}) for m in msgs]
    finally:
        await nc.close()


def _outgoing(samples: list[Sample], i: int, phase: str) -> tuple[str, bytes, dict[str, str]]:
    s = samples[i % len(samples)]
    headers = dict(s.headers, **{envelope.MSG_ID: f"raw-{phase}:{i}"})
    return "bench.raw." + s.subject.split(".", 1)[1], s.data, headers


def _throughput(name: str, count: int, seconds: float, unit: str = "msgs/s", note: str = "") -> Measurement:
    m = Measurement(name, value=rate(count, seconds), unit=unit, seconds=round(seconds, 3), count=count, note=note)
    progress(f"limit {name}: {m.value:,.0f} {unit}")
    return m


async def jetstream_limits(nats_url: str, samples: list[Sample], count: int) -> dict[str, Measurement]:
    """Publish `count` messages three ways into a scratch stream, then pull-consume them with acks."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    out: dict[str, Measurement] = {}
    size = sum(len(s.data) + sum(len(k) + len(v) for k, v in s.headers.items()) for s in samples) / len(samples)
    note = f"{size:.0f} B/msg (payload + headers of the run's events)"
    try:
        await js.add_stream(StreamConfig(name=RAW_STREAM, subjects=["bench.raw.>"], retention=RetentionPolicy.LIMITS,
                                         storage=StorageType.FILE, discard=DiscardPolicy.OLD,
                                         duplicate_window=DUPLICATE_WINDOW_SECONDS))
        start = time.perf_counter()
        for i in range(count):
            subject, data, headers = _outgoing(samples, i, "seq")
            await js.publish(subject, data, headers=headers, stream=RAW_STREAM, timeout=10)
        out["js_publish_seq"] = _throughput("JetStream publish, acked + Msg-Id, sequential (relay-like)", count,
                                            time.perf_counter() - start, note=note)
        start = time.perf_counter()
        futures = []
        for i in range(count):
            subject, data, headers = _outgoing(samples, i, "async")
            futures.append(await js.publish_async(subject, data, stream=RAW_STREAM, headers=headers))
        await js.publish_async_completed()
        for f in futures:
            f.result()  # raise if any publish was not acknowledged
        out["js_publish_async"] = _throughput("JetStream publish, acked + Msg-Id, nats-py publish_async", count,
                                              time.perf_counter() - start, note=note)
        start = time.perf_counter()
        for base in range(0, count, PIPELINE_WINDOW):
            batch = [_outgoing(samples, i, "pipe") for i in range(base, min(count, base + PIPELINE_WINDOW))]
            await asyncio.gather(*(js.publish(s, d, headers=h, stream=RAW_STREAM, timeout=10) for s, d, h in batch))
        out["js_publish_pipelined"] = _throughput(
            f"JetStream publish, acked + Msg-Id, pipelined ({PIPELINE_WINDOW} in flight)", count,
            time.perf_counter() - start, note=note)
        sub = await js.pull_subscribe("bench.raw.>", durable="bench-raw", stream=RAW_STREAM,
                                      config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=1000))
        consumed = 0
        start = time.perf_counter()
        while consumed < count:
            for msg in await sub.fetch(100, timeout=5):
                await msg.ack()
                consumed += 1
        out["js_pull_consume"] = _throughput("JetStream pull-consume, nats-py fetch(100) + ack each",
                                             consumed, time.perf_counter() - start, note=note)
        out["js_pull_raw"] = await _raw_pull_limit(nc, count, note)
    finally:
        try:
            await js.delete_stream(RAW_STREAM)
        finally:
            await nc.close()
    return out


async def _raw_pull_limit(nc: nats.NATS, count: int, note: str) -> Measurement:
    """Pull-consume the scratch stream the way the consumers do: a durable consumer with their config, raw
    `CONSUMER.MSG.NEXT` pulls of ANTT_CONSUMER_BATCH (`Puller`, no nats-py `Msg`), one ack write per batch."""
    js = nc.jetstream()
    options = ConsumerOptions(batch=CommonSettings.from_env().consumer_batch)
    durable = "bench-raw-pull"
    await js.add_consumer(RAW_STREAM, ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
        ack_wait=options.ack_wait, max_deliver=-1, filter_subject="bench.raw.>",
        max_ack_pending=max(1000, options.batch * 4)))
    puller = Puller(nc, RAW_STREAM, durable, options.batch, options.fetch_timeout)
    await puller.start()
    consumed = 0
    start = time.perf_counter()
    try:
        while consumed < count:
            msgs = await puller.fetch()
            await ack_deliveries(nc, msgs)
            consumed += len(msgs)
    finally:
        await puller.stop()
    return _throughput(f"JetStream pull-consume, raw pull of {options.batch} + one ack write per batch (consumers)",
                       consumed, time.perf_counter() - start, note=note)


_ROWS = sa.MetaData()
_raw_units = sa.Table("bench_raw_units", _ROWS, sa.Column("unit_id", sa.String(36), primary_key=True),
                      sa.Column("code", sa.String(50), nullable=False),
                      sa.Column("name", sa.String(200), nullable=False),
                      sa.Column("unit_type", sa.String(30), nullable=False),
                      sa.Column("province_code", sa.String(2), nullable=False),
                      sa.Column("commune_code", sa.String(5), nullable=False))


def _rows(units: list[SyntheticUnit], count: int) -> list[dict[str, str]]:
    return [{"unit_id": str(uuid.uuid4()), "code": u.code, "name": u.name, "unit_type": u.unit_type,
             "province_code": u.province_code, "commune_code": u.commune_code}
            for u in (units[i % len(units)] for i in range(count))]


def insert_limit(url: str, units: list[SyntheticUnit], count: int) -> Measurement:
    """Rows shaped like the unit replica, inserted in transactions of INSERT_BATCH rows (service pragmas)."""
    engine = create_engine(url)
    try:
        _ROWS.create_all(engine)
        rows = _rows(units, count)
        start = time.perf_counter()
        for base in range(0, count, INSERT_BATCH):
            with engine.begin() as conn:
                conn.execute(_raw_units.insert(), rows[base:base + INSERT_BATCH])
        name = f"{engine.dialect.name} batched insert ({INSERT_BATCH} rows/transaction)"
        return _throughput(name, count, time.perf_counter() - start, unit="rows/s", note="rows like the unit replica")
    finally:
        _ROWS.drop_all(engine)
        engine.dispose()


def copy_limit(url: str, units: list[SyntheticUnit], count: int) -> Measurement:
    """PostgreSQL COPY of the same rows, one transaction."""
    rows = _rows(units, count)
    cols = ("unit_id", "code", "name", "unit_type", "province_code", "commune_code")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE bench_raw_copy (unit_id varchar(36) PRIMARY KEY, code varchar(50) NOT NULL, "
                     "name varchar(200) NOT NULL, unit_type varchar(30) NOT NULL, province_code varchar(2) NOT NULL, "
                     "commune_code varchar(5) NOT NULL)")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor().copy(f"COPY bench_raw_copy ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])
        conn.commit()
        seconds = time.perf_counter() - start
        conn.execute("DROP TABLE bench_raw_copy")
    return _throughput("postgresql COPY (one transaction)", count, seconds, unit="rows/s")

"""The measured stack: an embedded nats-server and `antt serve` processes on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import grpc
import nats
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import Engine

from antt.auth import client as auth_client
from antt.auth import keys as auth_keys
from antt.eventstore.persistence import create_engine
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.testing.processes import ServiceProcess, service_env

SERVED = ("registry", "assessment", "reporting", "notifications")
# Services with an outbox relay run it in a process of its own, as deploy/k8s/services.yaml deploys them
# (`<svc>-relay`): the API process runs `serve <svc> --no-relay`, so the relay has its own interpreter
# (and GIL) instead of sharing one with the commands and the consumers.
RELAYED = ("registry", "assessment", "notifications")
API_ARGS = ("--no-relay",)
RELAY_ARGS = ("--no-grpc", "--no-consumers")  # the relay alone, with its own /metrics
# Notifications' scheduler clock: D-7 of the 31/03 deadlines (registration, plan) of the bench's year,
# an hour after the 08:00 send time. Its own scan runs once at start (nothing registered yet) and then
# not for a day, so the reminder-scan stage's RunScan finds every reminder of that deadline due.
REMINDER_CLOCK = "2026-03-24T09:00:00+07:00"
BENCH_KID = "bench-1"


class Stack:
    """nats-server + registry, assessment, reporting and notifications processes (and the relays of those that
    publish, as "<svc>-relay"), with read access to their databases."""

    def __init__(self, workdir: Path, database_urls: dict[str, str], reference_tree: str = "all") -> None:
        self.workdir = workdir
        self.urls = dict(database_urls)
        self.nats = NatsServer(free_port(), workdir / "nats-store", log_file=workdir / "nats-server.log")
        self.env: dict[str, str] = {}
        self.processes: dict[str, ServiceProcess] = {}
        self._relays_due: dict[str, ServiceProcess] = {}  # relay processes started once their API process serves
        self.retired_rss: dict[str, dict[str, float]] = {}  # peak memory of processes stopped during the run
        self._engines: dict[str, Engine] = {}
        self.reference_tree = reference_tree
        self.keys_dir = workdir / "keys"
        self.token = ""  # the bench's service token, sent on every gRPC call

    def channel(self, service: str, options: list[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
        """A grpc.aio channel to a service whose every call carries the bench's bearer token."""
        return auth_client.aio_channel(self.grpc_target(service), self.token, options)

    def start(self) -> None:
        """Start nats-server and the service processes."""
        self.nats.start()
        # Services require tokens (ANTT_AUTH_REQUIRED): one keyring for the stack, signed by the bench.
        auth_keys.generate(self.keys_dir, BENCH_KID)
        self.token = auth_client.service_token(self.keys_dir, subject="service:bench")
        overrides = {f"ANTT_{s.upper()}_DATABASE_URL": u for s, u in self.urls.items() if s in SERVED}
        self.env = service_env(self.workdir, self.nats.url, ANTT_LOG_LEVEL="WARNING", ANTT_CONSUMER_ACK_WAIT="30",
                               ANTT_REGISTRY_REFERENCE_TREE=self.reference_tree,
                               ANTT_NOTIFICATIONS_CLOCK_START=REMINDER_CLOCK,
                               ANTT_NOTIFICATIONS_SCAN_INTERVAL="86400",
                               ANTT_AUTH_REQUIRED="true", ANTT_AUTH_KEYS_DIR=str(self.keys_dir),
                               **overrides)
        for service in SERVED:
            self._start(service, self.env, "")

    def _start(self, service: str, env: dict[str, str], suffix: str) -> ServiceProcess:
        """Start a service's API process; its relay process (on a metrics port of its own), if it publishes,
        starts in `wait_serving` once the API process serves: two processes creating one SQLite file's tables
        at once may meet "database is locked"."""
        relayed = service in RELAYED
        self.processes[service] = ServiceProcess(["serve", service, *(API_ARGS if relayed else ())], env,
                                                 self.workdir / f"{service}{suffix}.log").start()
        if relayed:
            relay_env = dict(env, **{f"ANTT_{service.upper()}_METRICS_PORT": str(free_port())})
            self._relays_due[service] = ServiceProcess(
                ["serve", service, *RELAY_ARGS], relay_env, self.workdir / f"{service}-relay{suffix}.log")
        return self.processes[service]

    def grpc_target(self, service: str) -> str:
        """host:port of a service's gRPC server."""
        return f"127.0.0.1:{self.processes[service].env[f'ANTT_{service.upper()}_GRPC_PORT']}"

    async def wait_serving(self, timeout: float = 60.0) -> None:
        """Until every process's gRPC health check says SERVING."""
        for service, proc in list(self.processes.items()):
            if service not in SERVED:  # a relay process serves no gRPC: it only has to be running
                if not proc.alive():
                    raise RuntimeError(f"{service} exited: {proc.output()[-2000:]}")
                continue
            async with self.channel(service) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                deadline = asyncio.get_running_loop().time() + timeout
                while True:
                    if not proc.alive():
                        raise RuntimeError(f"{service} exited: {proc.output()[-2000:]}")
                    with contextlib.suppress(grpc.aio.AioRpcError):
                        reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                        if reply.status == health_pb2.HealthCheckResponse.SERVING:
                            break
                    if asyncio.get_running_loop().time() > deadline:
                        raise TimeoutError(f"{service} not serving within {timeout}s")
                    await asyncio.sleep(0.1)
            relay = self._relays_due.pop(service, None)
            if relay is not None:
                self.processes[relay_name(service)] = relay.start()

    def retire(self, service: str) -> None:
        """Record a service's peak memory, then stop it and its relay (they stay listed as retired)."""
        for name in (service, relay_name(service)):
            proc = self.processes.pop(name, None)
            if proc is None:
                continue
            if proc.alive() and proc.process is not None:
                self.retired_rss[name] = peak_rss_mb(proc.process.pid)
            proc.stop()

    def restart(self, service: str, database_url: str) -> ServiceProcess:
        """Start a retired service again on another database, on new ports."""
        env = dict(self.env, **{f"ANTT_{service.upper()}_DATABASE_URL": database_url,
                                f"ANTT_{service.upper()}_GRPC_PORT": str(free_port()),
                                f"ANTT_{service.upper()}_METRICS_PORT": str(free_port())})
        self.urls[service] = database_url
        old = self._engines.pop(service, None)
        if old is not None:
            old.dispose()
        return self._start(service, env, "-again")

    def engine(self, service: str) -> Engine:
        """Read access to a service's database."""
        if service not in self._engines:
            self._engines[service] = create_engine(self.urls[service])
        return self._engines[service]

    def count(self, service: str, table: str) -> int:
        """Rows in a table of a service's database (0 while the table does not exist)."""
        with self.engine(service).connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return 0
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() or 0)

    def rows(self, service: str, query: str) -> list[Any]:
        """Rows of a SQL query on a service's database."""
        with self.engine(service).connect() as conn:
            return list(conn.execute(sa.text(query)))

    def applied(self, service: str, source: str) -> int:
        """Positions from `source` that a service's consumers have applied (its tracking rows)."""
        with self.engine(service).connect() as conn:
            if not sa.inspect(conn).has_table("antt_tracking"):
                return 0
            return int(conn.execute(sa.text("SELECT count(*) FROM antt_tracking WHERE source = :s"),
                                    {"s": source}).scalar() or 0)

    async def settle(self, timeout: float = 600.0, quiet: float = 3.0) -> int:
        """Until the registry stream stops growing (after the reference tree, if one is loaded, reached it)
        and assessment and reporting have applied all of it."""
        deadline = asyncio.get_running_loop().time() + timeout
        last, since = -1, asyncio.get_running_loop().time()
        while True:
            messages = await self.stream_messages("ANTT_REGISTRY")
            if messages == 0 and self.reference_tree != "none":
                since = asyncio.get_running_loop().time()  # the tree is saved in one go: wait for it
            applied = [await asyncio.to_thread(self.applied, s, "registry") for s in ("assessment", "reporting")]
            now = asyncio.get_running_loop().time()
            if messages != last:
                last, since = messages, now
            elif now - since >= quiet and all(a >= messages for a in applied):
                return messages
            if now > deadline:
                raise TimeoutError(f"stack did not settle: stream {messages}, applied {applied}")
            await asyncio.sleep(0.25)

    async def _stream_state(self, stream: str) -> Any:
        """A JetStream stream's state (messages, first and last sequence)."""
        nc = await nats.connect(self.nats.url)
        try:
            return (await nc.jetstream().stream_info(stream)).state
        finally:
            await nc.close()

    async def stream_messages(self, stream: str) -> int:
        """Messages held by a JetStream stream."""
        return int((await self._stream_state(stream)).messages)

    async def stream_span(self, stream: str, first: int) -> tuple[int, float, float] | None:
        """(messages, stored time of the first, of the last) for the sequences from `first` to the stream's
        last, in epoch seconds as the server stamped them; None when the stream holds none of them."""
        nc = await nats.connect(self.nats.url)
        try:
            js = nc.jetstream()
            last = int((await js.stream_info(stream)).state.last_seq)
            if last < first:
                return None
            times = [(await js.get_msg(stream, seq)).time for seq in (first, last)]
            return last - first + 1, times[0].timestamp(), times[1].timestamp()  # type: ignore[union-attr]
        finally:
            await nc.close()

    async def stream_last_seq(self, stream: str) -> int:
        """The sequence of a stream's last message (0 when empty)."""
        return int((await self._stream_state(stream)).last_seq)

    def cpu(self, name: str) -> float | None:
        """CPU seconds a running process of the stack has used (None when it is not running)."""
        proc = self.processes.get(name)
        if proc is None or not proc.alive() or proc.process is None:
            return None
        return cpu_seconds(proc.process.pid)

    def stop_services(self) -> None:
        """SIGTERM every service process."""
        for proc in self.processes.values():
            proc.stop()

    def close(self) -> None:
        """Stop everything and release database connections."""
        self.stop_services()
        self.nats.stop()
        for engine in self._engines.values():
            engine.dispose()


def relay_name(service: str) -> str:
    """The name of a service's relay process in Stack.processes (as its k8s Deployment is named)."""
    return f"{service}-relay"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def peak_rss_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a live process, in MB, from /proc/<pid>/status."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values

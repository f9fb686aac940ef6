"""The measured stack: an embedded nats-server and `antt serve` processes on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
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
# Notifications' scheduler clock: D-7 of the 31/03 deadlines (registration, plan) of the bench's year,
# an hour after the 08:00 send time. Its own scan runs once at start (nothing registered yet) and then
# not for a day, so the reminder-scan stage's RunScan finds every reminder of that deadline due.
REMINDER_CLOCK = "2026-03-24T09:00:00+07:00"
BENCH_KID = "bench-1"


class Stack:
    """nats-server + registry, assessment, reporting and notifications processes, with read access to their databases."""

    def __init__(self, workdir: Path, database_urls: dict[str, str], reference_tree: str = "all") -> None:
        self.workdir = workdir
        self.urls = dict(database_urls)
        self.nats = NatsServer(free_port(), workdir / "nats-store", log_file=workdir / "nats-server.log")
        self.env: dict[str, str] = {}
        self.processes: dict[str, ServiceProcess] = {}
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
            self.processes[service] = ServiceProcess(["serve", service], self.env,
                                                     self.workdir / f"{service}.log").start()

    def grpc_target(self, service: str) -> str:
        """host:port of a service's gRPC server."""
        return f"127.0.0.1:{self.processes[service].env[f'ANTT_{service.upper()}_GRPC_PORT']}"

    async def wait_serving(self, timeout: float = 60.0) -> None:
        """Until every process's gRPC health check says SERVING."""
        for service, proc in self.processes.items():
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

    def retire(self, service: str) -> None:
        """Record a service's peak memory, then stop it (it stays listed as retired)."""
        proc = self.processes.pop(service)
        if proc.alive() and proc.process is not None:
            self.retired_rss[service] = peak_rss_mb(proc.process.pid)
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
        self.processes[service] = ServiceProcess(["serve", service], env,
                                                 self.workdir / f"{service}-again.log").start()
        return self.processes[service]

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

    async def stream_messages(self, stream: str) -> int:
        """Messages held by a JetStream stream."""
        nc = await nats.connect(self.nats.url)
        try:
            return int((await nc.jetstream().stream_info(stream)).state.messages)
        finally:
            await nc.close()

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


def peak_rss_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a live process, in MB, from /proc/<pid>/status."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values

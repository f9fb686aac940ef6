"""`antt dev`: embedded nats-server + the four services as processes, demo data, clean shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from antt.auth.client import service_token
from antt.auth.config import AuthConfig
from antt.auth.keys import KeyringError
from antt.messaging.natsconfig import write_config
from antt.runtime import ports
from antt.runtime.nats_server import NatsServer
from antt.settings import DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS, SERVICES, CommonSettings

READY_LINE = "antt dev: ready / sẵn sàng"


@dataclass
class Child:
    """A service process started by `antt dev`."""

    name: str
    grpc_port: int
    metrics_port: int
    process: subprocess.Popen[bytes]
    log: Path


def plan_ports(env: Mapping[str, str], host: str) -> tuple[dict[str, str], list[str]]:
    """Environment for the children with every port resolved, and notes on ports that moved."""
    out: dict[str, str] = {}
    notes: list[str] = []
    taken: set[int] = set()
    for svc in SERVICES:
        for kind, defaults in (("GRPC", DEFAULT_GRPC_PORTS), ("METRICS", DEFAULT_METRICS_PORTS)):
            var = f"ANTT_{svc.upper()}_{kind}_PORT"
            port, moved = ports.choose(var, defaults[svc], env, host, taken)
            taken.add(port)
            out[var] = str(port)
            if moved:
                notes.append(f"{var}: {defaults[svc]} bận / busy -> {port}")
    return out, notes


def wait_serving(port: int, timeout: float = 60.0) -> None:
    """Block until the gRPC health check of the server on `port` says SERVING."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"service on port {port} not SERVING after {timeout}s")
            time.sleep(0.2)


def load_demo(registry_port: int, token: str) -> int:
    """Register the demo units through the registry's gRPC API, sending `token`; returns how many were new."""
    from antt.auth import client
    from antt.registry.v1 import registry_service_pb2 as pb
    from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
    from services.registry.demo import demo_units

    created = 0
    with client.channel(f"127.0.0.1:{registry_port}", token) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        for u in demo_units():
            try:
                stub.RegisterUnit(pb.RegisterUnitRequest(code=u.code, name=u.name, unit_type=u.unit_type,
                                                         province_code=u.province_code,
                                                         commune_code=u.commune_code), timeout=10)
                created += 1
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.ALREADY_EXISTS:  # a second `antt dev` keeps the first's data
                    raise
    return created


def print_demo_tokens(env: Mapping[str, str]) -> None:
    """A ready-to-use bearer token per role, scoped to the demo's Bạch Long Vĩ (Hải Phòng)."""
    from antt.auth.cli import demo_tokens
    from antt.auth.config import AuthConfig
    from services.registry.demo import demo_units

    unit = next(u for u in demo_units() if u.commune_code == "11948")
    tokens = demo_tokens(AuthConfig.from_env(env).keys_dir, unit.province_code, unit.commune_code, unit.code)
    print("antt dev: demo tokens (authorization: Bearer …):")
    for role, token in tokens.items():
        print(f"antt dev:   {role:<20} {token}")


def start_console(env: Mapping[str, str], data_dir: Path) -> Child:
    """The operator console (`antt console`) with the development demo users, once it answers /healthz."""
    import urllib.request

    port, moved = ports.choose("ANTT_CONSOLE_PORT", 8080, env)
    if moved:
        print(f"antt dev: ANTT_CONSOLE_PORT: 8080 bận / busy -> {port}", flush=True)
    log_path = data_dir / "logs" / "console.log"
    console_env = {**env, "ANTT_CONSOLE_PORT": str(port),
                   "ANTT_CONSOLE_DEMO_USERS": env.get("ANTT_CONSOLE_DEMO_USERS") or "demo"}
    proc = subprocess.Popen([sys.executable, "-m", "antt.cli", "console"], env=console_env,
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise TimeoutError(f"console on port {port} not answering; see {log_path}") from None
            time.sleep(0.2)
    print(f"antt dev: console        http://127.0.0.1:{port}/  (demo users, password demo)  log {log_path}", flush=True)
    return Child("console", port, 0, proc, log_path)


def run(demo: bool = False) -> int:
    """Start everything, print where it listens, and run until Ctrl-C or SIGTERM."""
    env = dict(os.environ)
    common = CommonSettings.from_env(env)
    data_dir = common.data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    nats: NatsServer | None = None
    children: list[Child] = []
    stop = {"requested": False}

    def request_stop(signum: int, _frame: object) -> None:
        stop["requested"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        child_env, notes = plan_ports(env, "127.0.0.1")
        service_urls: dict[str, str] = {}  # each service's NATS URL with its credentials (embedded server)
        if not common.nats_url:
            port, moved = ports.choose("ANTT_NATS_PORT", 4222, env)
            if moved:
                notes.append(f"ANTT_NATS_PORT: 4222 bận / busy -> {port}")
            # Secured: one user per service with subject permissions (antt.messaging.natsconfig); agencies
            # added with `antt agency add` are in the same generated config.
            secured = write_config(data_dir, port=port)
            nats = NatsServer(port, data_dir / "nats", log_file=data_dir / "logs" / "nats-server.log",
                              extra_args=["-c", str(secured.config_path)]).start()
            child_env["ANTT_NATS_URL"] = nats.url  # without credentials: printed, never a service's own URL
            service_urls = secured.service_urls
        child_env["ANTT_DATA_DIR"] = str(data_dir)
        # Every call needs a token: without configured keys, a development keyring is made in the data dir.
        keys_dir = AuthConfig.from_env({**env, **child_env}).keyring_dir()
        # The official provinces and communes, loaded once into an empty registry.
        child_env["ANTT_REGISTRY_REFERENCE_TREE"] = env.get("ANTT_REGISTRY_REFERENCE_TREE") or "all"
        for note in notes:
            print(f"antt dev: {note}", flush=True)
        for svc in SERVICES:
            log_path = data_dir / "logs" / f"{svc}.log"
            own = {"ANTT_NATS_URL": service_urls[svc]} if svc in service_urls else {}
            proc = subprocess.Popen([sys.executable, "-m", "antt.cli", "serve", svc], env={**env, **child_env, **own},
                                    stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
            children.append(Child(svc, int(child_env[f"ANTT_{svc.upper()}_GRPC_PORT"]),
                                  int(child_env[f"ANTT_{svc.upper()}_METRICS_PORT"]), proc, log_path))
        for c in children:
            wait_serving(c.grpc_port)
        print(f"antt dev: NATS {child_env['ANTT_NATS_URL']}" + (f" (store {nats.store_dir})" if nats else ""))
        for c in children:
            print(f"antt dev: {c.name:<14} gRPC 127.0.0.1:{c.grpc_port}  metrics http://127.0.0.1:{c.metrics_port}/metrics"
                  f"  log {c.log}")
        children.append(start_console({**env, **child_env}, data_dir))
        if demo:
            registered = load_demo(children[0].grpc_port, service_token(keys_dir))
            print(f"antt dev: demo data: {registered} units registered")
            print_demo_tokens({**env, **child_env})
        print(READY_LINE + " (Ctrl-C để dừng / to stop)", flush=True)
        while not stop["requested"]:
            for c in children:
                if c.process.poll() is not None:
                    print(f"antt dev: {c.name} exited with {c.process.returncode}; see {c.log}", file=sys.stderr)
                    return 1
            time.sleep(0.2)
        return 0
    except (ports.PortBusyError, TimeoutError, OSError, KeyringError) as exc:
        print(f"antt dev: {exc}", file=sys.stderr)
        return 2
    finally:
        for c in children:
            if c.process.poll() is None:
                c.process.send_signal(signal.SIGTERM)
        for c in children:
            try:
                c.process.wait(20)
            except subprocess.TimeoutExpired:
                c.process.kill()
        if nats is not None:
            nats.stop()
        print("antt dev: stopped / đã dừng", flush=True)

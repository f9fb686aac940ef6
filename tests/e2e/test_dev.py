"""`antt dev` (what `make run` starts): four services SERVING, metrics answering, demo data flowing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from antt.auth.keys import Keyring
from antt.auth.tokens import verify
from antt.reporting.v1 import reporting_service_pb2 as rpb
from antt.reporting.v1 import reporting_service_pb2_grpc as rpb_grpc
from antt.runtime.dev import READY_LINE
from antt.runtime.ports import free_port
from antt.settings import SERVICES
from antt.testing.auth import service_channel
from antt.testing.wait import wait_until
from services.registry.demo import demo_units

pytestmark = pytest.mark.e2e


def dev_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env["ANTT_DATA_DIR"] = str(tmp_path / "var")
    for svc in SERVICES:  # explicit free ports: tests may run beside a real `antt dev`
        env[f"ANTT_{svc.upper()}_GRPC_PORT"] = str(free_port())
        env[f"ANTT_{svc.upper()}_METRICS_PORT"] = str(free_port())
    env["ANTT_CONSOLE_PORT"] = str(free_port())
    return env


def console_dashboard_of_demo_commune(port: str) -> str:
    """Sign in to the console as the demo commune operator and return the dashboard's HTML."""
    import http.cookiejar
    import re
    import urllib.parse

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    base = f"http://127.0.0.1:{port}"
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    form = urllib.parse.urlencode({"csrf": match.group(1), "username": "xa-11948", "password": "demo"}).encode()
    return opener.open(f"{base}/login", data=form, timeout=30).read().decode()


def read_until_ready(proc: subprocess.Popen[str], timeout: float = 90) -> list[str]:
    lines: list[str] = []
    import threading

    done = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if READY_LINE in line:
                done.set()
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    done.wait(timeout)
    assert any(READY_LINE in line for line in lines), "\n".join(lines)
    return lines


async def nats_refuses_anonymous(url: str) -> bool:
    """True when a client without credentials is refused (authorization violation)."""
    import nats
    from nats.errors import NoServersError

    try:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=0)
    except (NoServersError, nats.errors.Error, OSError) as exc:
        return "authorization" in str(exc).lower() or isinstance(exc, NoServersError)
    await nc.close()
    return False


def test_antt_dev_brings_everything_up_and_stops_cleanly(tmp_path: Path) -> None:
    env = dev_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "antt.cli", "dev", "--demo"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = read_until_ready(proc)
        for svc in SERVICES:
            port = env[f"ANTT_{svc.upper()}_GRPC_PORT"]
            assert any(f"gRPC 127.0.0.1:{port}" in line for line in lines)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
                reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            body = urllib.request.urlopen(
                f"http://127.0.0.1:{env[f'ANTT_{svc.upper()}_METRICS_PORT']}/metrics", timeout=5).read().decode()
            assert "antt_" in body
        expected = len(demo_units())
        with service_channel(env, f"127.0.0.1:{env['ANTT_REPORTING_GRPC_PORT']}") as ch:
            stub = rpb_grpc.ReportingServiceStub(ch)
            wait_until(lambda: stub.GetUnitCounts(rpb.GetUnitCountsRequest(), timeout=5).total == expected,
                       timeout=240, message="demo units counted by reporting (after the ~3,400 reference areas)")
        assert (tmp_path / "var" / "registry.db").exists() and (tmp_path / "var" / "nats").is_dir()
        token = next(line.split()[-1] for line in lines if "commune_operator" in line)
        principal = verify(Keyring.load(tmp_path / "var" / "keys"), token)
        assert (principal.role.value, principal.jurisdiction) == ("commune_operator", "11948")
        nats_url = next(line.split()[3] for line in lines if line.startswith("antt dev: NATS "))
        assert "@" not in nats_url  # the printed URL carries no credentials
        assert asyncio.run(nats_refuses_anonymous(nats_url))  # the embedded server runs the secured config
        assert any(f"console        http://127.0.0.1:{env['ANTT_CONSOLE_PORT']}/" in line for line in lines)
        dashboard = console_dashboard_of_demo_commune(env["ANTT_CONSOLE_PORT"])
        assert "Bạch Long Vĩ" in dashboard and "Tổng quan" in dashboard  # signed in, the commune's own scope
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0
    for port in [*(env[f"ANTT_{svc.upper()}_GRPC_PORT"] for svc in SERVICES), env["ANTT_CONSOLE_PORT"]]:
        with socket.socket() as s:  # every child has let go of its port (connections may linger in TIME_WAIT)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(port)))
            s.listen()


def test_busy_explicit_port_is_named_in_a_clear_message(tmp_path: Path) -> None:
    env = dev_env(tmp_path)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        env["ANTT_REGISTRY_GRPC_PORT"] = str(held.getsockname()[1])
        result = subprocess.run([sys.executable, "-m", "antt.cli", "dev"], env=env, text=True, capture_output=True,
                                timeout=60)
    assert result.returncode == 2
    assert "ANTT_REGISTRY_GRPC_PORT" in result.stdout + result.stderr

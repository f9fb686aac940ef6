"""`antt dev` (what `make run` starts): four services SERVING, metrics answering, demo data flowing."""

from __future__ import annotations

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
from antt.testing.wait import wait_until
from services.registry.demo import demo_units

pytestmark = pytest.mark.e2e


def dev_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env["ANTT_DATA_DIR"] = str(tmp_path / "var")
    for svc in SERVICES:  # explicit free ports: tests may run beside a real `antt dev`
        env[f"ANTT_{svc.upper()}_GRPC_PORT"] = str(free_port())
        env[f"ANTT_{svc.upper()}_METRICS_PORT"] = str(free_port())
    return env


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
        with grpc.insecure_channel(f"127.0.0.1:{env['ANTT_REPORTING_GRPC_PORT']}") as ch:
            stub = rpb_grpc.ReportingServiceStub(ch)
            wait_until(lambda: stub.GetUnitCounts(rpb.GetUnitCountsRequest(), timeout=5).total == expected,
                       timeout=240, message="demo units counted by reporting (after the ~3,400 reference areas)")
        assert (tmp_path / "var" / "registry.db").exists() and (tmp_path / "var" / "nats").is_dir()
        token = next(line.split()[-1] for line in lines if "commune_operator" in line)
        principal = verify(Keyring.load(tmp_path / "var" / "keys"), token)
        assert (principal.role.value, principal.jurisdiction) == ("commune_operator", "11948")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0
    for svc in SERVICES:  # every child has let go of its port
        with socket.socket() as s:
            s.bind(("127.0.0.1", int(env[f"ANTT_{svc.upper()}_GRPC_PORT"])))


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

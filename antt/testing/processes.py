"""Service processes for end-to-end tests, started exactly as `antt dev` starts them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from antt.runtime.ports import free_port
from antt.settings import SERVICES


def service_env(data_dir: Path, nats_url: str, **overrides: str) -> dict[str, str]:
    """Environment for service processes: free ports for everything, quick redelivery."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTT_")}
    env.update({"ANTT_DATA_DIR": str(data_dir), "ANTT_NATS_URL": nats_url, "ANTT_CONSUMER_ACK_WAIT": "2",
                "ANTT_RELAY_POLL_INTERVAL": "0.05", "ANTT_LOG_LEVEL": "INFO"})
    for svc in SERVICES:
        env[f"ANTT_{svc.upper()}_GRPC_PORT"] = str(free_port())
        env[f"ANTT_{svc.upper()}_METRICS_PORT"] = str(free_port())
    env.update(overrides)
    return env


@dataclass
class ServiceProcess:
    """`python -m antt.cli <args>` with its output in a log file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ServiceProcess:
        """Start the process (again, after a kill)."""
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "antt.cli", *self.args], env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal and wait for the process to go."""
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(30)

    def stop(self) -> int | None:
        """SIGTERM, wait, and return the exit code (None if it was not running)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """Everything the process logged."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

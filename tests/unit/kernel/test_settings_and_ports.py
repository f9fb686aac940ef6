"""Settings from the environment, and port choice when a default is busy."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from antt.runtime import ports
from antt.settings import SERVICES, ServiceSettings, all_vars

pytestmark = pytest.mark.unit


def test_defaults_follow_the_documented_table() -> None:
    s = ServiceSettings.from_env("reporting", {})
    assert (s.grpc_port, s.metrics_port) == (50053, 9103)
    assert s.database_url == f"sqlite:///{Path('var') / 'reporting.db'}"
    assert s.common.nats_servers == ["nats://127.0.0.1:4222"]
    names = {v.name for v in all_vars()}
    for svc in SERVICES:
        assert {f"ANTT_{svc.upper()}_GRPC_PORT", f"ANTT_{svc.upper()}_DATABASE_URL"} <= names


def test_environment_overrides() -> None:
    s = ServiceSettings.from_env("registry", {"ANTT_REGISTRY_GRPC_PORT": "6000", "ANTT_DATA_DIR": "/d",
                                              "ANTT_NATS_URL": "nats://a:1,nats://b:2"})
    assert s.grpc_port == 6000 and s.database_url == "sqlite:////d/registry.db"
    assert s.common.nats_servers == ["nats://a:1", "nats://b:2"]


def test_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        ServiceSettings.from_env("billing", {})


def test_busy_default_port_moves_and_busy_explicit_port_names_its_variable() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        port, moved = ports.choose("ANTT_X_PORT", busy, {})
        assert moved and port != busy
        with pytest.raises(ports.PortBusyError, match="ANTT_X_PORT"):
            ports.choose("ANTT_X_PORT", 1, {"ANTT_X_PORT": str(busy)})

"""Choosing ports: keep the configured one, or pick a free one when the default is busy."""

from __future__ import annotations

import socket
from collections.abc import Mapping


class PortBusyError(OSError):
    """An explicitly configured port is in use; the message names the variable to change."""


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def choose(variable: str, default: int, env: Mapping[str, str], host: str = "127.0.0.1",
           taken: set[int] | None = None) -> tuple[int, bool]:
    """(port, changed): the configured port, or a free one if the default is busy.

    An explicitly set port that is busy raises PortBusyError naming `variable`.
    """
    taken = taken if taken is not None else set()
    explicit = env.get(variable, "")
    port = int(explicit) if explicit else default
    if port not in taken and is_free(port, host):
        return port, False
    if explicit:
        raise PortBusyError(f"Cổng {port} đang bận; hãy đặt {variable} thành cổng khác / "
                            f"port {port} is busy; set {variable} to another port")
    while True:
        candidate = free_port(host)
        if candidate not in taken:
            return candidate, True

"""Polling until something holds (processes and streams are asynchronous)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.05,
               message: str = "condition") -> T:
    """Call `predicate` until it returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def wait_settled(read: Callable[[], T], quiet: float = 0.5, timeout: float = 30.0, message: str = "value") -> T:
    """Read until two readings `quiet` seconds apart are equal (work already under way has finished); return it."""
    deadline = time.monotonic() + timeout
    last = read()
    while True:
        time.sleep(quiet)
        value = read()
        if value == last:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} still changing after {timeout}s (last {last!r}, now {value!r})")
        last = value


async def async_wait_until(predicate: Callable[[], Awaitable[T]], timeout: float = 30.0, interval: float = 0.05,
                           message: str = "condition") -> T:
    """Async form of wait_until."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{message} not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)

"""Delivery channels: email (SMTP), signed webhooks, and NATS events through the outbox.

A channel calls `hand_over()` just before its commit point (the SMTP end-of-data line, the last
byte of a webhook body). If the ledger refuses the hand-over (another worker took the delivery
over), the channel drops the connection without committing, so the receiver never gets a
complete message from this attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

HandOver = Callable[[], None]


@dataclass(frozen=True)
class OutgoingMessage:
    """What one delivery sends: its key, the address, a bilingual subject and body, structured facts."""

    key: str
    address: str
    subject: str
    body: str
    facts: dict[str, Any] = field(default_factory=dict)


class ChannelError(Exception):
    """An attempt failed (refused, unreachable, bad reply); the ledger retries it with backoff."""


class HandOverRefused(Exception):
    """The ledger did not let this worker hand the message over: abort without committing."""


class Channel(Protocol):
    """Sends one message; returns a receipt (e.g. the server's reply) or raises ChannelError."""

    name: str

    def send(self, message: OutgoingMessage, hand_over: HandOver) -> str:
        """Send, calling hand_over() right before the commit point."""
        ...


class NatsChannel:
    """Notices published as events (antt.notifications.v1.…) by the outbox relay: nothing to send here."""

    name = "nats"

    def send(self, message: OutgoingMessage, hand_over: HandOver) -> str:
        """The Sent event itself is the publication; the relay delivers it exactly once."""
        return "outbox"

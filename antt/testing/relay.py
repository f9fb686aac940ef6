"""Test helper: a relay's state path and its decoding path give the same messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nats
import sqlalchemy as sa

from antt.contracts import envelope
from antt.relay.outbox import OutboxRelay


def offline_relay(service: str, app: Any, publisher: Any, from_state: bool) -> OutboxRelay:
    """A relay whose `outgoing` can be called: it neither connects nor reads its cursor's table."""
    return OutboxRelay(service, app, publisher.to_message, sa.create_engine("sqlite://"), nats.NATS(),
                       from_state=from_state)


def assert_same_outgoing(fast: OutboxRelay, slow: OutboxRelay, notifications: Iterable[Any], stream: str) -> None:
    """Every notification gives the same subject, payload, envelope and header block through both relays."""
    msg_id = f"{stream.lower()}:1"
    for n in notifications:
        a, b = fast.outgoing(n), slow.outgoing(n)
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert (a.subject, a.data, a.envelope) == (b.subject, b.data, b.envelope), n.topic
            assert envelope.header_block(a.envelope, msg_id, stream) == envelope.header_block(b.envelope, msg_id, stream)

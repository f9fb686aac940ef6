"""Test helpers for notifications: a real SMTP server, a real webhook receiver, replica events."""

from __future__ import annotations

import collections
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from google.protobuf.message import Message

from antt.contracts import envelope, subjects
from antt.events.v1 import assessment_pb2, registry_pb2
from antt.messaging.consumer import ReceivedEvent
from antt.runtime.ports import free_port
from services.notifications import projections
from services.notifications.channels.email import KEY_HEADER
from services.notifications.channels.webhook import SIGNATURE_HEADER, verify


class SmtpSink:
    """aiosmtpd handler keeping every accepted message; counts them by reminder key."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope_: Any) -> str:
        mail = message_from_bytes(envelope_.content)
        with self.lock:
            self.messages.append(mail)
        return "250 OK"

    def keys(self) -> collections.Counter[str]:
        """How many messages arrived per X-Antt-Reminder-Key."""
        with self.lock:
            return collections.Counter(str(m[KEY_HEADER]) for m in self.messages)


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpSink, int]]:
    """A real SMTP server on a free local port."""
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


class WebhookReceiver:
    """A real HTTP receiver that answers 500 to the first `failures` requests, then 200."""

    def __init__(self, secret: str, failures: int) -> None:
        self.secret = secret
        self.failures = failures
        self.requests: list[tuple[int, bytes, dict[str, str], bool]] = []  # (status, body, headers, signed ok)
        self.lock = threading.Lock()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        """The request handler class bound to this receiver."""
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER, ""))
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.failures else 200
                    receiver.requests.append((status, body, dict(self.headers), ok))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def accepted(self) -> list[tuple[int, bytes, dict[str, str], bool]]:
        """Requests answered 200."""
        with self.lock:
            return [r for r in self.requests if r[0] == 200]


@contextmanager
def webhook_receiver(secret: str, failures: int) -> Iterator[tuple[WebhookReceiver, str]]:
    """A receiver on a free local port; yields it and its URL."""
    receiver = WebhookReceiver(secret, failures)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/hooks/antt"
    finally:
        server.shutdown()
        server.server_close()


_position = iter(range(1, 10**9))


def received(service: str, payload: Message, province: str, commune: str) -> ReceivedEvent:
    """A decoded message as the consumer base hands it to a projection."""
    name = type(payload).DESCRIPTOR.name
    env = envelope.new(service, next(_position), f"antt.{service}.v1.{name}", "2026-01-01T00:00:00+00:00", "x")
    return ReceivedEvent(env, subjects.parse(subjects.for_event(service, name, province, commune)), payload)


def register_unit(engine: sa.Engine, unit_id: str, code: str, unit_type: str, province: str, commune: str,
                  email: str = "", webhook: str = "") -> None:
    """Apply UnitRegistered (and UnitUpdated with contacts) to the replica, as the consumer would."""
    with engine.begin() as conn:
        projections.on_registry_event(conn, received("registry", registry_pb2.UnitRegistered(
            unit_id=unit_id, code=code, name=f"Đơn vị {code}", unit_type=unit_type, province_code=province,
            commune_code=commune, eligibility=registry_pb2.Eligibility(eligible=True)), province, commune))
        if email or webhook:
            projections.on_registry_event(conn, received("registry", registry_pb2.UnitUpdated(
                unit_id=unit_id, code=code, name=f"Đơn vị {code}", contact_email=email, contact_webhook=webhook,
                province_code=province, commune_code=commune), province, commune))


def close_unit(engine: sa.Engine, unit_id: str, code: str, province: str, commune: str) -> None:
    """Apply UnitClosed to the replica."""
    with engine.begin() as conn:
        projections.on_registry_event(conn, received("registry", registry_pb2.UnitClosed(
            unit_id=unit_id, code=code, reason="dissolved", province_code=province, commune_code=commune),
            province, commune))


def case_registered(engine: sa.Engine, unit_id: str, year: int, province: str, commune: str) -> None:
    """Apply assessment's CaseRegistered to the replica: the unit registered for the standard."""
    with engine.begin() as conn:
        projections.on_assessment_event(conn, received("assessment", assessment_pb2.CaseRegistered(
            unit_id=unit_id, year=year, province_code=province, commune_code=commune), province, commune))

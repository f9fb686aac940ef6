"""Composition root of notifications: build(settings) -> Service (API, relay, consumers, scheduler)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from antt.eventstore.persistence import create_engine
from antt.grpcx.server import ServicerBinding
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from antt.runtime.service import Roles, Service, ServiceParts
from antt.settings import ServiceSettings
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.application import Notifications
from services.notifications.calendars import load_calendar_set
from services.notifications.channels import Channel, NatsChannel
from services.notifications.channels.email import EmailChannel
from services.notifications.channels.webhook import WebhookChannel
from services.notifications.consumers import CONSUMERS
from services.notifications.published import NotificationsPublisher
from services.notifications.scanner import Scanner
from services.notifications.settings import NotificationsSettings

log = logging.getLogger(__name__)


class NotificationsService(Service):
    """The common service parts plus the scheduler that scans for due reminders every interval."""

    def __init__(self, settings: ServiceSettings, parts: ServiceParts, scanner: Scanner, interval: float) -> None:
        super().__init__(settings, parts, scanner.engine)
        self.scanner = scanner
        self.interval = interval
        self._scheduler: asyncio.Task[None] | None = None
        self._halt = asyncio.Event()

    async def start(self, roles: Roles = Roles()) -> None:
        """Start the parts named by `roles`; the scheduler runs with the consumers (the worker role)."""
        await super().start(roles)
        if roles.consumers:
            self._scheduler = asyncio.create_task(self._schedule(), name="notifications-scheduler")

    async def _schedule(self) -> None:
        while not self._halt.is_set():
            try:
                result = await asyncio.to_thread(self.scanner.scan)
                if result.sent or result.failed:
                    log.info("scan at %s: %d due, %d sent, %d failed, %d skipped", result.at.isoformat(),
                             result.due, result.sent, result.failed, result.skipped)
            except Exception:
                log.exception("scan failed; next one in %.1fs", self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._halt.wait(), self.interval)

    async def stop(self) -> None:
        """Let the current scan finish, then stop everything else."""
        self._halt.set()
        if self._scheduler is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._scheduler, 30)
        await super().stop()


def build(settings: ServiceSettings, own: NotificationsSettings | None = None) -> Service:
    """Notifications: gRPC API, ledger + outbox relay, registry/assessment consumers and the scheduler."""
    own = own or NotificationsSettings.from_env()
    engine = create_engine(settings.database_url)
    app = Notifications(settings.database_url, engine=engine)
    channels: dict[str, Channel] = {
        "email": EmailChannel(own.smtp_host, own.smtp_port, own.smtp_sender),
        "webhook": WebhookChannel(own.webhook_secret),
        "nats": NatsChannel(),
    }
    scanner = Scanner(app, engine, load_calendar_set(), channels, own.clock(),
                      claim_lease=timedelta(seconds=own.claim_lease))
    binding = ServicerBinding(NotificationsServicer(engine, scanner), pb_grpc.add_NotificationsServiceServicer_to_server,
                              "antt.notifications.v1.NotificationsService")
    parts = ServiceParts(bindings=[binding], app=app, to_message=NotificationsPublisher(app).to_message,
                         consumers=list(CONSUMERS))
    return NotificationsService(settings, parts, scanner, own.scan_interval)

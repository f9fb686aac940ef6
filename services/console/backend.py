"""The backend-for-frontend's gRPC side: one channel per service, calls carrying the user's bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from antt.assessment.v1 import assessment_service_pb2_grpc as assessment_grpc
from antt.notifications.v1 import notifications_service_pb2_grpc as notifications_grpc
from antt.registry.v1 import registry_service_pb2_grpc as registry_grpc
from antt.reporting.v1 import reporting_service_pb2_grpc as reporting_grpc

TIMEOUT = 30.0
MAX_MESSAGE = 64 * 1024 * 1024


@dataclass
class ServiceError(Exception):
    """A failed call, in the words of the service: status, reason code, Vietnamese and English text, field."""

    code: grpc.StatusCode
    reason: str
    message_vi: str
    message_en: str
    field: str = ""

    def __str__(self) -> str:
        return f"{self.code.name} {self.reason}: {self.message_vi} / {self.message_en}"

    @property
    def denied(self) -> bool:
        """The service refused the caller (PERMISSION_DENIED)."""
        return self.code is grpc.StatusCode.PERMISSION_DENIED

    @property
    def unauthenticated(self) -> bool:
        """The token was missing, expired or invalid."""
        return self.code is grpc.StatusCode.UNAUTHENTICATED


def service_error(exc: grpc.aio.AioRpcError) -> ServiceError:
    """ErrorInfo (vi/en) and BadRequest (field) of a failed call; the status text when the service sent none."""
    reason, vi, en, field = "", "", "", ""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, vi, en = info.reason, info.metadata.get("vi", ""), info.metadata.get("en", "")
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            field = bad.field_violations[0].field if bad.field_violations else ""
    text = exc.details() or exc.code().name
    if not vi:
        vi, _, rest = text.partition(" / ")
        en = rest or text
    return ServiceError(exc.code(), reason or exc.code().name, vi, en, field)


class Backend:
    """Channels to the four services; `call` makes one unary call as the signed-in user."""

    def __init__(self, targets: dict[str, str]) -> None:
        options = [("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)]
        self.channels = {name: grpc.aio.insecure_channel(address, options=options) for name, address in targets.items()}
        self.registry = registry_grpc.RegistryServiceStub(self.channels["registry"])
        self.assessment = assessment_grpc.AssessmentServiceStub(self.channels["assessment"])
        self.reporting = reporting_grpc.ReportingServiceStub(self.channels["reporting"])
        self.notifications = notifications_grpc.NotificationsServiceStub(self.channels["notifications"])

    @staticmethod
    def metadata(token: str) -> tuple[tuple[str, str], ...]:
        """The call metadata carrying the user's token."""
        return (("authorization", f"Bearer {token}"),)

    async def call(self, method: Any, request: Any, token: str) -> Any:
        """One unary call with the token; ServiceError on failure."""
        try:
            result: Awaitable[Any] = method(request, metadata=self.metadata(token), timeout=TIMEOUT)
            return await result
        except grpc.aio.AioRpcError as exc:
            raise service_error(exc) from None

    async def stream(self, method: Any, requests: Any, token: str) -> AsyncIterator[Any]:
        """A streaming call with the token; ServiceError on failure."""
        try:
            async for reply in method(requests, metadata=self.metadata(token), timeout=TIMEOUT * 4):
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise service_error(exc) from None

    async def close(self) -> None:
        """Close every channel."""
        for channel in self.channels.values():
            await channel.close()

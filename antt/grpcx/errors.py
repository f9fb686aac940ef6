"""Map domain errors to gRPC statuses with rich details (ErrorInfo reason, BadRequest field)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from antt.errors import DomainError

log = logging.getLogger(__name__)

DOMAIN = "antt.gov.vn"
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def to_status(error: DomainError) -> status_pb2.Status:
    """A google.rpc.Status carrying the reason code, both languages and the offending field."""
    code = getattr(code_pb2, error.kind.value)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN,
                                       metadata={"vi": error.message_vi, "en": error.message_en})
    details = [info]
    if error.field:
        details.append(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=error.field, description=error.message)]))
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    return status_pb2.Status(code=code, message=error.message, details=packed)


async def abort_with(context: grpc.aio.ServicerContext, error: DomainError) -> None:
    """End the call with the status of `error` (raises grpc's AbortError)."""
    await context.abort_with_status(rpc_status.to_status(to_status(error)))


def map_domain_errors(method: F) -> F:
    """Decorator for async servicer methods: DomainError -> matching status code, never INTERNAL."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except DomainError as error:
            await abort_with(context, error)

    return wrapper  # type: ignore[return-value]


def error_info(exc: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """Client side: the ErrorInfo of a failed call, if the server sent one."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None

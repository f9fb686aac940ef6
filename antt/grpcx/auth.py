"""Authentication interceptor: verify the bearer token of every call and expose the principal.

The principal is held in a context variable set inside the wrapped handler (the task that runs the
servicer method), so `current_principal(context)` and `principal_actor()` work in servicer code.
Health and reflection stay open so probes and tools work without a token.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from antt.actor import Actor
from antt.auth.keys import Keyring
from antt.auth.principal import SYSTEM_PRINCIPAL, Principal
from antt.auth.tokens import TokenError, VerifiedTokens
from antt.contracts.meta import actor_from_pb
from antt.grpcx.errors import DOMAIN

log = logging.getLogger(__name__)

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")
_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("antt_principal", default=None)


def current_principal(context: grpc.aio.ServicerContext | None = None) -> Principal:
    """The caller of the current RPC (the system principal outside an authenticated call)."""
    return _PRINCIPAL.get() or SYSTEM_PRINCIPAL


def principal_actor() -> Actor:
    """The actor to record in events for the current call: the token's subject, role, tier, jurisdiction."""
    return current_principal().actor()


def effective_actor(claimed: Actor | None = None) -> Actor:
    """The actor to record: the token's when the call carries one; else the request's claimed actor or SYSTEM.

    Only unauthenticated calls (ANTT_AUTH_REQUIRED=false, no token) may still name an actor in the
    request body, as the demo loader and older clients do; a token always wins over the body.
    """
    principal = current_principal()
    if principal.key_id:
        return principal.actor()
    return claimed if claimed is not None and claimed.id else principal.actor()


def request_actor(request: Any) -> Actor:
    """`effective_actor` for a request message with an `actor` field (antt.common.v1.Actor)."""
    return effective_actor(actor_from_pb(request.actor))


def status_with_reason(code: int, reason: str, message_vi: str, message_en: str) -> grpc.Status:
    """A grpc status carrying an ErrorInfo (reason, vi, en) like antt.grpcx.errors does for domain errors."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata={"vi": message_vi, "en": message_en})
    packed = any_pb2.Any()
    packed.Pack(info)
    return rpc_status.to_status(status_pb2.Status(code=code, message=f"{message_vi} / {message_en}",
                                                  details=[packed]))


def bearer_token(metadata: Any) -> str | None:
    """The token of an `authorization: Bearer …` metadata entry (None without one; "" if malformed)."""
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        scheme, _, token = text.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    return None


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Verifies tokens; without one, acts as the system principal unless tokens are required."""

    def __init__(self, service: str, keyring: Keyring, required: bool) -> None:
        self.service = service
        self.keyring = keyring
        self.required = required
        self.tokens = VerifiedTokens(keyring)  # a client's token is verified once, not on every call

    def authenticate(self, metadata: Any) -> Principal:
        """The principal of the call's metadata, or TokenError."""
        token = bearer_token(metadata)
        if token is None:
            if self.required:
                raise TokenError("AUTH_TOKEN_MISSING", "thiếu mã thông báo (authorization: Bearer …)",
                                 "missing bearer token (authorization: Bearer …)")
            return SYSTEM_PRINCIPAL
        return self.tokens.verify(token)

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        try:
            principal: Principal | None = self.authenticate(handler_call_details.invocation_metadata)
            error: TokenError | None = None
        except TokenError as exc:
            principal, error = None, exc
            log.warning("unauthenticated call to %s: %s", method, exc.reason)
        return _wrap(handler, principal, error)


def _reset(token: contextvars.Token[Principal | None]) -> None:
    try:
        _PRINCIPAL.reset(token)
    except ValueError:  # finalised in another context: nothing of ours to restore there
        pass


def _wrap(handler: grpc.RpcMethodHandler, principal: Principal | None, error: TokenError | None) -> Any:
    """The same handler kind, run with the principal set, or aborting with UNAUTHENTICATED."""

    async def reject(context: grpc.aio.ServicerContext) -> None:
        assert error is not None
        await context.abort_with_status(status_with_reason(code_pb2.UNAUTHENTICATED, error.reason,
                                                           error.message_vi, error.message_en))

    def unary(inner: Callable[..., Any]) -> Callable[..., Any]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if error is not None:
                await reject(context)
            token = _PRINCIPAL.set(principal)
            try:
                return await inner(request, context)
            finally:
                _reset(token)
        return call

    def streaming(inner: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isasyncgenfunction(inner):
            return unary(inner)

        async def gen(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if error is not None:
                await reject(context)
            token = _PRINCIPAL.set(principal)
            try:
                async for item in inner(request, context):
                    yield item
            finally:
                _reset(token)
        return gen

    kw = dict(request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **kw)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **kw)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **kw)
    return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **kw)

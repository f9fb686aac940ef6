"""Server interceptors: count requests by method and status code and time them; and the one that runs
metrics, authentication and request validation together around each call."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.rpc import code_pb2

from antt import metrics
from antt.grpcx import auth as grpc_auth
from antt.grpcx import validation
from antt.grpcx.errors import abort_with


def _code_name(code: Any) -> str:
    return code.name if hasattr(code, "name") else str(code)


class _Recorder:
    """The request counter and latency histogram of one service; label children looked up once each."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._counts: dict[tuple[str, str], Any] = {}
        self._latencies: dict[str, Any] = {}

    def record(self, method: str, code: Any, seconds: float) -> None:
        """Count one finished call and observe its duration."""
        name = _code_name(code)
        counter = self._counts.get((method, name))
        if counter is None:  # labels() hands back the same child for the same labels: keep it
            counter = self._counts[(method, name)] = metrics.GRPC_REQUESTS.labels(self.service, method, name)
        counter.inc()
        latency = self._latencies.get(method)
        if latency is None:
            latency = self._latencies[method] = metrics.GRPC_LATENCY.labels(self.service, method)
        latency.observe(seconds)


def _final_code(code: Any, context: grpc.aio.ServicerContext) -> Any:
    if code is grpc.StatusCode.OK and context.code() not in (None, grpc.StatusCode.OK):
        return context.code()
    return code


def _timed(inner: Callable[..., Any], recorder: _Recorder, method: str) -> Callable[..., Any]:
    async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            return await inner(request, context)
        except Exception:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        finally:
            recorder.record(method, _final_code(code, context), time.perf_counter() - start)
    return timed


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Records antt_grpc_requests_total and antt_grpc_request_duration_seconds for unary calls."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.recorder = _Recorder(service)

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        return grpc.unary_unary_rpc_method_handler(
            _timed(handler.unary_unary, self.recorder, method), request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


WRAPPED_MAX = 10_000  # wrapped handlers kept (methods × principals of clients calling them)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """MetricsInterceptor, then AuthInterceptor, then ValidationInterceptor, in one wrapper per unary call.

    The same steps in the same order (count and time; authenticate, or UNAUTHENTICATED; bound the size
    and validate, or an error; the servicer with the principal set), without three handler objects and
    three coroutine frames per call. Streaming methods get the three wrappers composed as before.
    """

    def __init__(self, service: str, authenticator: grpc_auth.AuthInterceptor, limits: Any,
                 open_prefixes: tuple[str, ...] = grpc_auth.OPEN_PREFIXES) -> None:
        self.service = service
        self.auth = authenticator
        self.limits = limits
        self.open_prefixes = open_prefixes
        self.recorder = _Recorder(service)
        # The wrapped unary handler of each method, per authenticated principal: the same handler and
        # principal make the same wrapper, so it is built once instead of on every call (a client's
        # token verifies to the same Principal object while it is cached). Keyed by id(principal),
        # with the principal and the servicer's handler kept in the entry and compared by identity.
        self._wrapped: dict[tuple[str, int], tuple[Any, Any, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        full = handler_call_details.method or ""
        if not full.startswith(self.open_prefixes):
            try:
                principal: Any = self.auth.authenticate(handler_call_details.invocation_metadata)
                error: Any = None
            except grpc_auth.TokenError as exc:
                principal, error = None, exc
                grpc_auth.log.warning("unauthenticated call to %s: %s", full, exc.reason)
            if handler.unary_unary is None:
                return grpc_auth._wrap(validation._wrap(handler, self.limits), principal, error)
            if error is None:
                return self._authenticated(full, handler, principal)
            inner = self._checked(handler.unary_unary, principal, error)
            deserializer = validation._tolerant(handler.request_deserializer)
        elif handler.unary_unary is None:
            return handler
        else:
            inner, deserializer = handler.unary_unary, handler.request_deserializer
        return grpc.unary_unary_rpc_method_handler(
            _timed(inner, self.recorder, full.rsplit("/", 1)[-1]), request_deserializer=deserializer,
            response_serializer=handler.response_serializer)

    def _authenticated(self, full: str, handler: grpc.RpcMethodHandler, principal: Any) -> grpc.RpcMethodHandler:
        """The unary handler wrapped for an authenticated principal (built once per method and principal)."""
        key = (full, id(principal))
        found = self._wrapped.get(key)
        if found is not None and found[0] is principal and found[1] is handler:
            return found[2]
        wrapped = grpc.unary_unary_rpc_method_handler(
            _timed(self._checked(handler.unary_unary, principal, None), self.recorder, full.rsplit("/", 1)[-1]),
            request_deserializer=validation._tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer)
        if len(self._wrapped) >= WRAPPED_MAX:  # many clients' tokens: start over rather than grow
            self._wrapped.clear()
        self._wrapped[key] = (principal, handler, wrapped)
        return wrapped

    def _checked(self, inner: Callable[..., Any], principal: Any, error: Any) -> Callable[..., Any]:
        """What AuthInterceptor's then ValidationInterceptor's wrappers do around a unary call."""
        limits = self.limits

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if error is not None:
                await context.abort_with_status(grpc_auth.status_with_reason(
                    code_pb2.UNAUTHENTICATED, error.reason, error.message_vi, error.message_en))
            token = grpc_auth._PRINCIPAL.set(principal)
            try:
                await validation._check_unary_size(request, limits, context)
                try:
                    validation._check(request, limits)
                except validation.RequestValidationError as invalid:
                    await abort_with(context, invalid)
                return await validation._settle(inner(request, context))
            finally:
                grpc_auth._reset(token)
        return call

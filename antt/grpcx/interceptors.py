"""Server interceptor: count requests by method and status code and time them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from antt import metrics


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Records antt_grpc_requests_total and antt_grpc_request_duration_seconds for unary calls."""

    def __init__(self, service: str) -> None:
        self.service = service

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        service = self.service

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return await inner(request, context)
            except Exception:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                if code is grpc.StatusCode.OK and context.code() not in (None, grpc.StatusCode.OK):
                    code = context.code()
                metrics.GRPC_REQUESTS.labels(service, method, code.name if hasattr(code, "name") else str(code)).inc()
                metrics.GRPC_LATENCY.labels(service, method).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            timed, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

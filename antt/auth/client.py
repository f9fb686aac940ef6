"""Client side of authentication: mint a service token and send `authorization: Bearer …` on every call.

Everything in antt that calls a service's gRPC API (antt dev, antt import, tests) uses this module:
`service_token()` for a service account, `bearer_metadata()` for one call, or `channel()` /
`aio_channel()` for a channel whose every call carries the token (a call's own authorization
metadata, when given, wins).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from antt.auth.keys import Keyring
from antt.auth.principal import Role, Tier
from antt.auth.tokens import DEFAULT_TTL_SECONDS, issue

SERVICE_SUBJECT = "service:antt"
Metadata = tuple[tuple[str, str], ...]


def service_token(keys_dir: Path, subject: str = SERVICE_SUBJECT, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> str:
    """A token of the service role (nationwide) signed with the active key in `keys_dir`."""
    return issue(Keyring.load(keys_dir), subject, Role.SERVICE, Tier.BO, ttl_seconds=ttl_seconds)


def client_token(env: Mapping[str, str] | None = None) -> str:
    """The token a command-line client sends: ANTT_TOKEN, else a service token from this machine's keyring."""
    from antt.auth.config import AuthConfig

    e = os.environ if env is None else env
    explicit = e.get("ANTT_TOKEN", "").strip()
    return explicit or service_token(AuthConfig.from_env(e).keyring_dir())


def bearer_metadata(token: str) -> Metadata:
    """Call metadata carrying `token`."""
    return (("authorization", f"Bearer {token}"),)


def _with_token(metadata: Any, token: str) -> list[tuple[str, Any]]:
    """`metadata` plus the bearer token unless it already names an authorization."""
    items = list(metadata or ())
    if not any(str(k).lower() == "authorization" for k, _v in items):
        items.extend(bearer_metadata(token))
    return items


class _SyncDetails(collections.namedtuple("_SyncDetails", ("method", "timeout", "metadata", "credentials",
                                                           "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    """Call details with the metadata replaced (grpc.ClientCallDetails has no constructor)."""


class _SyncBearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                  grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds the bearer token to every call of a synchronous channel."""

    def __init__(self, token: str) -> None:
        self.token = token

    def _details(self, d: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _SyncDetails(d.method, d.timeout, _with_token(d.metadata, self.token), d.credentials,
                            getattr(d, "wait_for_ready", None), getattr(d, "compression", None))

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(details), request_iterator)


def _aio_details(d: grpc.aio.ClientCallDetails, token: str) -> grpc.aio.ClientCallDetails:
    return d._replace(metadata=grpc.aio.Metadata(*_with_token(d.metadata, token)))  # type: ignore[attr-defined]


# grpc.aio files each interceptor under one call kind only, so each kind needs its own class.
class _AioUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_aio_details(details, self.token), request)


class _AioUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_aio_details(details, self.token), request)


class _AioStreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(_aio_details(details, self.token), request_iterator)


class _AioStreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self.token = token

    async def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(_aio_details(details, self.token), request_iterator)


def aio_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that add the bearer token to every kind of grpc.aio call."""
    return [_AioUnaryUnary(token), _AioUnaryStream(token), _AioStreamUnary(token), _AioStreamStream(token)]


def aio_channel(target: str, token: str, options: Sequence[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """An insecure grpc.aio channel to `target` whose calls carry `token`."""
    return grpc.aio.insecure_channel(target, options=options, interceptors=aio_interceptors(token))


def channel(target: str, token: str, options: Sequence[tuple[str, Any]] | None = None) -> grpc.Channel:
    """An insecure synchronous channel to `target` whose calls carry `token` (usable in `with`)."""
    return grpc.intercept_channel(grpc.insecure_channel(target, options=options), _SyncBearer(token))

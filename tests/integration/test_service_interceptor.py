"""The single ServiceInterceptor answers every call as the three interceptors it replaces, over real gRPC.

Two servers serve the same test servicer: one with MetricsInterceptor, AuthInterceptor and
ValidationInterceptor (the reference), one with ServiceInterceptor. Each call (allowed, denied,
unauthenticated, invalid text, oversized, undecodable, normalised, streamed, health) must give the
same reply bytes or the same status, details and ErrorInfo, reach the servicer alike, and count the
same metrics.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from antt import metrics
from antt.auth import keys
from antt.auth.tokens import issue
from antt.grpcx.auth import OPEN_PREFIXES, AuthInterceptor
from antt.grpcx.errors import error_info
from antt.grpcx.interceptors import MetricsInterceptor, ServiceInterceptor
from antt.grpcx.validation import ValidationInterceptor, server_options
from antt.registry.v1 import registry_service_pb2 as pb
from antt.registry.v1 import registry_service_pb2_grpc as pb_grpc
from antt.settings import RequestLimits
from tests.integration.test_auth_grpc import Servicer

pytestmark = pytest.mark.integration

LIMITS = RequestLimits(max_message_bytes=1 << 20, max_unary_bytes=2_000, max_string_length=40, max_repeated=5)
DECOMPOSED = unicodedata.normalize("NFD", "Phường Ba Đình")


async def serve(keys_dir: Path, merged: bool, service: str) -> tuple[grpc.aio.Server, int, Servicer]:
    ring = keys.ensure_dev_keyring(keys_dir)
    auth = AuthInterceptor(service, ring, True)
    chain: list[Any] = ([ServiceInterceptor(service, auth, LIMITS, OPEN_PREFIXES)] if merged else
                        [MetricsInterceptor(service), auth, ValidationInterceptor(LIMITS, OPEN_PREFIXES)])
    server = grpc.aio.server(interceptors=chain, options=server_options(LIMITS))
    servicer = Servicer()
    pb_grpc.add_RegistryServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port, servicer


def outcome(reply: Any = None, exc: grpc.aio.AioRpcError | None = None) -> tuple[Any, ...]:
    if exc is None:
        return ("ok", reply.SerializeToString(deterministic=True) if hasattr(reply, "SerializeToString") else reply)
    info = error_info(exc)
    return (exc.code(), exc.details(), info.reason if info else None, dict(info.metadata) if info else None)


async def calls(port: int, tokens: dict[str, str]) -> list[tuple[Any, ...]]:
    """Every kind of call, in order; each one's outcome."""
    out: list[tuple[Any, ...]] = []

    def md(who: str) -> Any:
        return (("authorization", f"Bearer {tokens[who]}"),) if who in tokens else None

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = pb_grpc.RegistryServiceStub(ch)
        unary = [
            ("ministry", pb.RegisterUnitRequest(code="X", province_code="31", commune_code="11948")),
            ("commune", pb.RegisterUnitRequest(code="X", province_code="01", commune_code="00145")),  # denied
            ("nobody", pb.RegisterUnitRequest(code="X", commune_code="11948")),  # no token
            ("forged", pb.RegisterUnitRequest(code="X", commune_code="11948")),  # bad token
            ("ministry", pb.RegisterUnitRequest(code="X\x07", commune_code="11948")),  # control character
            ("ministry", pb.RegisterUnitRequest(code="X" * 41, commune_code="11948")),  # too long
            ("ministry", pb.RegisterUnitRequest(code="X", commune_code=DECOMPOSED)),  # normalised
            ("forged", pb.RegisterUnitRequest(code="X\x07", commune_code="11948")),  # unauthenticated first
        ]
        for who, request in unary:
            try:
                out.append(outcome(await stub.RegisterUnit(request, metadata=md(who))))
            except grpc.aio.AioRpcError as exc:
                out.append(outcome(exc=exc))
        oversized = pb.CreateAreaRequest(level="commune", code="1", name="x" * 2_100)  # size is checked first
        for request in (oversized, pb.CreateAreaRequest(level="commune", code="99999")):
            try:
                out.append(outcome(await stub.CreateArea(request, metadata=md("ministry"))))
            except grpc.aio.AioRpcError as exc:
                out.append(outcome(exc=exc))
        raw = ch.unary_unary("/antt.registry.v1.RegistryService/RegisterUnit")
        for who in ("ministry", "nobody"):
            try:
                out.append(outcome(await raw(b"\xff\xff\xff", metadata=md(who))))
            except grpc.aio.AioRpcError as exc:
                out.append(outcome(exc=exc))
        out.append(outcome(await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())))

        async def chunks(rows: list[pb.ImportRow]) -> AsyncIterator[pb.ImportUnitsRequest]:
            yield pb.ImportUnitsRequest(rows=rows)
        for who, rows in (("ministry", [pb.ImportRow(code="A", province_code="31", commune_code="11948")]),
                          ("ministry", [pb.ImportRow(code="A")] * 6), ("nobody", [pb.ImportRow(code="A")])):
            try:
                out.append(("stream", [outcome(p) async for p in stub.ImportUnits(chunks(rows), metadata=md(who))]))
            except grpc.aio.AioRpcError as exc:
                out.append(outcome(exc=exc))
    return out


def counted(service: str) -> dict[tuple[str, ...], float]:
    """The request counts and latency observations recorded for a service's label."""
    found: dict[tuple[str, ...], float] = {}
    for family in (metrics.GRPC_REQUESTS, metrics.GRPC_LATENCY):
        for metric in family.collect():
            for sample in metric.samples:
                # counts only: bucket and sum depend on how long each call took
                if sample.labels.get("service") == service and sample.name.endswith(("_total", "_count")):
                    labels = sorted((k, v) for k, v in sample.labels.items() if k != "service")
                    found[(sample.name, *(f"{k}={v}" for k, v in labels))] = sample.value
    return found


async def test_the_merged_interceptor_answers_every_call_as_the_three_did(tmp_path: Path) -> None:
    results, written, counts = [], [], []
    for merged in (False, True):
        service = f"equiv-{'one' if merged else 'three'}"
        server, port, servicer = await serve(tmp_path / "keys", merged, service)
        ring = keys.ensure_dev_keyring(tmp_path / "keys")
        tokens = {"ministry": issue(ring, "user:bo", "ministry_operator", "bo", ""),
                  "commune": issue(ring, "user:xa", "commune_operator", "xa", "11948"), "forged": "not-a-token"}
        try:
            results.append(await calls(port, tokens))
        finally:
            await server.stop(None)
        written.append([(method, target, actor.id) for method, target, actor in servicer.written])
        counts.append(counted(service))
    assert results[0] == results[1]
    assert written[0] == written[1]
    assert counts[0] == counts[1]
    # the reference did what the calls were written to provoke, so the comparison covers each path
    codes = [r[0] for r in results[0]]
    assert codes[:6] == ["ok", grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                         grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT,
                         grpc.StatusCode.INVALID_ARGUMENT]
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and "stream" in codes
    assert ("RegisterUnit", unicodedata.normalize("NFC", DECOMPOSED), "user:bo") in written[0]
    assert any(k[0] == "antt_grpc_requests_total" for k in counts[0])

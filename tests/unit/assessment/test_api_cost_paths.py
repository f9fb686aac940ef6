"""The cheaper per-call paths of the assessment API against what they replace: the reply built from a shared
value's remembered bytes, the request check walking a field's messages together, the wrapped handler kept
per method and principal, and the command threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pytest

from antt.actor import Actor
from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.auth import client as auth_client
from antt.auth import keys as auth_keys
from antt.auth.keys import Keyring
from antt.events.v1 import assessment_pb2 as events_pb
from antt.eventstore.hashchain import SHARED
from antt.grpcx import auth as grpc_auth
from antt.grpcx.interceptors import ServiceInterceptor
from antt.grpcx.validation import is_clean, validate_message
from antt.settings import RequestLimits
from services.assessment.api import converters as cv
from services.assessment.api import servicer as api
from services.assessment.application import Assessments
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import RuleCatalogue, UnitType

from services.assessment.published import result_pb

from .builders import YEAR, evidence, profile
from .test_shared_request_values import passing_results

pytestmark = pytest.mark.unit


# -- the reply -----------------------------------------------------------------------------------------
def by_message(case: Any) -> pb.Case:
    """The reply as it was built before: every result and finding copied in as a message."""
    return pb.Case(**cv.case_fields(case))


def fresh(value: Any) -> Any:
    """An equal value that is not shared (no forms remembered on it)."""
    return type(value)(**{name: getattr(value, name) for name in value.__dataclass_fields__})


def submitted(catalogue: RuleCatalogue, actor: Actor, shared: bool, fresh_one: bool = False) -> Any:
    """A submitted then appraised case whose results (and findings) are shared values or not."""
    unit = profile("KDC-REPLY", UnitType.KHU_DAN_CU)
    app = Assessments(rules=catalogue, units=StaticUnitDirectory([unit]))
    case = app.register_case(unit.unit_id, YEAR, [evidence("REG-FORM", "KDC-REPLY")], actor, date(YEAR, 1, 15))
    messages = [result_pb(r) for r in passing_results(catalogue.for_year(YEAR), unit)]
    findings = [events_pb.AssessmentFinding(criterion_id=m.criterion_id, met=m.met) if m.HasField("met") else
                events_pb.AssessmentFinding(criterion_id=m.criterion_id, value=m.value) for m in messages[:3]]
    cv.results_from_pb(messages), cv.findings_from_pb(findings)  # a second request makes the values shared
    results, found = cv.results_from_pb(messages), cv.findings_from_pb(findings)
    if not shared:
        results, found = [fresh(r) for r in results], [fresh(f) for f in found]
    if fresh_one:  # one result a unit gives alone, among shared ones
        results[1] = fresh(results[1])
    app.submit_self_assessed(case.id, results, [evidence("REC-REQUEST", "KDC-REPLY")], actor, date(YEAR, 10, 5))
    return app.appraise(case.id, found, actor, date(YEAR, 10, 20))


@pytest.mark.parametrize(("shared", "fresh_one"), [(True, False), (True, True), (False, False)])
def test_the_reply_is_the_one_built_message_by_message(catalogue: RuleCatalogue, actor: Actor, shared: bool,
                                                       fresh_one: bool) -> None:
    case = submitted(catalogue, actor, shared, fresh_one)
    assert len(case.results) > 3 and len(case.findings) == 3
    for _ in range(2):  # built, then from the remembered entries
        reply = cv.case_to_pb(case)
        assert reply == by_message(case)
        assert reply.SerializeToString() == by_message(case).SerializeToString()
        assert [r.criterion_id for r in reply.results] == list(case.results)  # in the case's order
        assert [f.criterion_id for f in reply.findings] == list(case.findings)
    # bytes are remembered on shared values only (a value a unit gives alone keeps nothing)
    memo = cv.ENTRY_MEMO + "results"
    assert not any(memo in r.__dict__ for r in case.results.values() if SHARED not in r.__dict__)
    if shared and not fresh_one:
        assert all(memo in r.__dict__ for r in case.results.values())


def test_a_reply_never_changes_the_bytes_remembered_on_a_shared_value(catalogue: RuleCatalogue,
                                                                     actor: Actor) -> None:
    case = submitted(catalogue, actor, shared=True)
    first = cv.case_to_pb(case)
    first.results[0].criterion_id = "changed"
    first.results[0].evidence.add(kind="X")
    assert cv.case_to_pb(case) == by_message(case)


# -- the request check ---------------------------------------------------------------------------------
LIMITS = RequestLimits(max_message_bytes=1 << 20, max_unary_bytes=1 << 19, max_string_length=20, max_repeated=3)


def request(results: int = 3) -> pb.SubmitCaseRequest:
    """A clean request whose results each carry two evidence references."""
    return pb.SubmitCaseRequest(
        case_id="c-1", dossier=[events_pb.AssessmentEvidence(kind="REC", uri="s3://a", title="don")],
        self_assessment_results=[events_pb.AssessmentCriterionResult(
            criterion_id=f"1.{n}", met=True, evidence=[events_pb.AssessmentEvidence(kind="K", uri=f"s3://{n}/{e}",
                                                                                     title="Biên bản")
                                                       for e in range(2)]) for n in range(results)])


def walk_leaves_alone(message: pb.SubmitCaseRequest) -> bool:
    copy = pb.SubmitCaseRequest()
    copy.CopyFrom(message)
    try:
        validate_message(copy, LIMITS)
    except Exception:  # noqa: BLE001 - rejected
        return False
    return copy.SerializeToString(deterministic=True) == message.SerializeToString(deterministic=True)


@pytest.mark.parametrize("spoil", [
    lambda r: None,
    lambda r: setattr(r.self_assessment_results[2].evidence[1], "title", "bad\x07"),
    lambda r: setattr(r.self_assessment_results[1].evidence[0], "uri", "o\u0302"),  # decomposed: normalised
    lambda r: setattr(r.self_assessment_results[2], "note", "x" * 21),
    lambda r: r.self_assessment_results[1].evidence.add(kind="4th"),  # one item's list over the bound
    lambda r: setattr(r.dossier[0], "sha256", "\x9f"),
    lambda r: setattr(r.actor, "id", "a\x00"),  # a singular message
])
def test_a_request_is_clean_exactly_when_the_walk_leaves_it_alone(spoil: Any) -> None:
    message = request()
    spoil(message)
    assert is_clean(message, LIMITS) == walk_leaves_alone(message)


def test_a_spoiled_item_is_found_in_any_position_of_a_nested_field() -> None:
    assert is_clean(request(), LIMITS)
    for n in range(3):
        for e in range(2):
            message = request()
            message.self_assessment_results[n].evidence[e].kind = "\x01"
            assert not is_clean(message, LIMITS)


# -- the wrapped handler -------------------------------------------------------------------------------
class _Context:
    def __init__(self) -> None:
        self.aborted: Any = None

    def code(self) -> Any:
        return None

    async def abort_with_status(self, status: Any) -> None:
        self.aborted = status
        raise grpc.RpcError()


def details(token: str | None) -> Any:
    metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
    return type("Details", (), {"method": "/antt.assessment.v1.AssessmentService/SubmitCase",
                                "invocation_metadata": metadata})()


async def test_a_wrapped_handler_is_kept_per_method_and_principal(tmp_path: Path) -> None:
    auth_keys.generate(tmp_path, "k1")
    tokens = [auth_client.service_token(tmp_path, subject=f"service:{n}") for n in ("a", "b")]
    seen: list[str] = []

    async def servicer(request: Any, context: Any) -> pb.Case:
        seen.append(grpc_auth.current_principal().subject)
        return pb.Case(case_id=request.case_id)

    handler = grpc.unary_unary_rpc_method_handler(servicer, request_deserializer=pb.SubmitCaseRequest.FromString,
                                                  response_serializer=pb.Case.SerializeToString)

    async def continuation(_: Any) -> grpc.RpcMethodHandler:
        return handler

    interceptor = ServiceInterceptor("assessment", grpc_auth.AuthInterceptor("assessment", Keyring.load(tmp_path),
                                                                             True), LIMITS)
    a1, a2, b = [await interceptor.intercept_service(continuation, details(t)) for t in (*tokens[:1], *tokens)]
    assert a1 is a2 and b is not a1  # kept for the same principal, another principal has its own
    for wrapped in (a1, b, a2):
        assert (await wrapped.unary_unary(pb.SubmitCaseRequest(case_id="c"), _Context())).case_id == "c"
    assert seen == ["service:a", "service:b", "service:a"]
    # a refused token is never kept: every call with it is refused again
    refused = [await interceptor.intercept_service(continuation, details("not-a-token")) for _ in range(2)]
    assert refused[0] is not refused[1]
    for wrapped in refused:
        context = _Context()
        with pytest.raises(grpc.RpcError):
            await wrapped.unary_unary(pb.SubmitCaseRequest(case_id="c"), context)
        assert context.aborted.code == grpc.StatusCode.UNAUTHENTICATED
    assert len(seen) == 3


# -- the command threads -------------------------------------------------------------------------------
_CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="")


async def test_commands_run_on_command_threads_in_the_callers_context() -> None:
    servicer = api.AssessmentServicer.__new__(api.AssessmentServicer)  # _run needs only its command threads
    servicer.command_threads, servicer._executor = api.COMMAND_THREADS, None
    # every command thread at once: the default executor (6 threads on two cores) would never fill this
    barrier = threading.Barrier(api.COMMAND_THREADS, timeout=10)

    def command(n: int) -> tuple[str, str, int]:
        barrier.wait()
        return threading.current_thread().name, _CALLER.get(), n

    async def call(n: int) -> tuple[str, str, int]:
        _CALLER.set(f"client-{n}")
        return await servicer._run(command, n)

    done = await asyncio.gather(*[call(n) for n in range(api.COMMAND_THREADS)])
    assert [(caller, n) for _, caller, n in done] == [(f"client-{n}", n) for n in range(api.COMMAND_THREADS)]
    assert all(name.startswith("assessment-command") for name, _, _ in done)
    assert len({name for name, _, _ in done}) == api.COMMAND_THREADS
    with pytest.raises(ZeroDivisionError):  # an error reaches the caller as it is
        await servicer._run(lambda: 1 / 0)


def test_the_command_thread_count_is_a_setting(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from antt.settings import ServiceSettings
    from services.assessment.main import build

    monkeypatch.setenv("ANTT_ASSESSMENT_COMMAND_THREADS", "3")
    settings = ServiceSettings.from_env("assessment", {"ANTT_DATA_DIR": str(tmp_path)})
    service = build(settings)
    try:
        (binding,) = service.parts.bindings
        assert binding.servicer.command_threads == 3
    finally:
        service.engine.dispose()
    assert api.AssessmentServicer.__init__.__defaults__ == (api.COMMAND_THREADS,)

"""Property-based fuzzing of every command RPC over real gRPC against the four services and a real nats-server.

Hypothesis builds request messages from the proto descriptors: random unicode (control characters,
combining marks, decomposed Vietnamese), oversized text, huge repeated fields, out-of-range numbers
and enum values, random nested messages, mixed with values that reach deep into the services (the
ids of a real unit and case, real area codes, dates). For every call: the status is one a client can
act on (never UNKNOWN, INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED), the server stays SERVING, and a
failed command leaves the service's event store unchanged (no partial write). Queries get fewer
examples and must not crash or write either.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.assessment.v1 import assessment_service_pb2 as ass_pb
from antt.assessment.v1 import assessment_service_pb2_grpc as ass_grpc
from antt.auth import keys
from antt.auth.keys import Keyring
from antt.auth.tokens import issue
from antt.grpcx.errors import error_info
from antt.notifications.v1 import notifications_service_pb2 as not_pb
from antt.notifications.v1 import notifications_service_pb2_grpc as not_grpc
from antt.registry.v1 import registry_service_pb2 as reg_pb
from antt.registry.v1 import registry_service_pb2_grpc as reg_grpc
from antt.reporting.v1 import reporting_service_pb2 as rep_pb
from antt.reporting.v1 import reporting_service_pb2_grpc as rep_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.ports import free_port
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.wait import wait_until
from services.assessment.api.servicer import AssessmentServicer
from services.assessment.main import build as build_assessment
from services.assessment.rules import load_catalogue
from services.notifications.api.servicer import NotificationsServicer
from services.notifications.main import build as build_notifications
from services.registry.api.servicer import RegistryServicer
from services.registry.main import build as build_registry
from services.reporting.api.servicer import ReportingServicer
from services.reporting.main import build as build_reporting
from tests.unit.assessment.grpc_builders import evidence

pytestmark = pytest.mark.integration
T = TypeVar("T")

MAX_STRING = 4096   # the defaults of ANTT_MAX_STRING_LENGTH and ANTT_MAX_REPEATED, set explicitly below
MAX_REPEATED = 1000
CRASHES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE,
           grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.DATA_LOSS, grpc.StatusCode.UNIMPLEMENTED,
           grpc.StatusCode.CANCELLED}
RULES = load_catalogue().for_year(2026)
UNIT = ("KDC-FUZZ-A", "31", "11948")   # Đặc khu Bạch Long Vĩ, Hải Phòng
SERVICES = {
    "registry": (reg_pb.DESCRIPTOR.services_by_name["RegistryService"], RegistryServicer, reg_grpc.RegistryServiceStub),
    "assessment": (ass_pb.DESCRIPTOR.services_by_name["AssessmentService"], AssessmentServicer,
                   ass_grpc.AssessmentServiceStub),
    "notifications": (not_pb.DESCRIPTOR.services_by_name["NotificationsService"], NotificationsServicer,
                      not_grpc.NotificationsServiceStub),
    "reporting": (rep_pb.DESCRIPTOR.services_by_name["ReportingService"], ReportingServicer,
                  rep_grpc.ReportingServiceStub),
}


def is_command(servicer: type, method: MethodDescriptor) -> bool:
    """A method writes when its declared permission says so; imports authorise in the body and write."""
    permission = getattr(getattr(servicer, method.name, None), "__antt_permission__", None)
    return permission == "in-body" or bool(getattr(permission, "write", False))


COMMANDS = [(name, m) for name, (d, servicer, _) in SERVICES.items() for m in d.methods if is_command(servicer, m)]
QUERIES = [(name, m) for name, (d, servicer, _) in SERVICES.items() for m in d.methods if not is_command(servicer, m)]


def test_the_command_list_covers_every_writing_method() -> None:
    names = {f"{s}.{m.name}" for s, m in COMMANDS}
    assert {"registry.RegisterUnit", "registry.ImportUnits", "registry.ImportAreas", "registry.MergeAreas",
            "assessment.RegisterCase", "assessment.DecideCases", "assessment.RegisterCases",
            "assessment.AppraiseCases", "notifications.RunScan"} <= names
    assert not names & {f"{s}.{m.name}" for s, m in QUERIES}
    assert len(COMMANDS) + len(QUERIES) == sum(len(d.methods) for d, _, _ in SERVICES.values())


# ---------------------------------------------------------------------------------------------- services


@dataclass
class Stack:
    """The four services on an event loop of their own thread, with sync stubs and a ministry token."""

    loop: asyncio.AbstractEventLoop
    services: dict[str, Service]
    stubs: dict[str, Any]
    channels: dict[str, grpc.Channel]
    token: list[tuple[str, str]]
    databases: dict[str, Path]
    unit_id: str
    case_id: str
    last_service: str = ""

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the services' loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def events(self, service: str) -> int:
        """Events stored by a service (its eventsourcing table in its SQLite file)."""
        if service == "reporting":  # no event store: projections only
            return 0
        with sqlite3.connect(f"file:{self.databases[service]}?mode=ro", uri=True, timeout=30) as db:
            return int(db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])

    def serving(self, service: str) -> bool:
        """The health service answers SERVING."""
        health = health_pb2_grpc.HealthStub(self.channels[service])
        reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def published(self) -> bool:
        """Every relay has published every stored event (an unpublishable event stops a relay for good)."""
        for service in ("registry", "assessment", "notifications"):
            with sqlite3.connect(f"file:{self.databases[service]}?mode=ro", uri=True, timeout=30) as db:
                stored = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM stored_events").fetchone()[0]
                sent = db.execute("SELECT COALESCE(MAX(position), 0) FROM antt_relay_position").fetchone()[0]
            if stored != sent:
                return False
        return True

    def settle(self) -> None:
        """Wait until the relays have published everything and the consumers stopped adding events anywhere."""
        wait_until(self.published, timeout=30, message="every stored event published")
        last: list[tuple[int, ...]] = []

        def quiet() -> bool:
            last.append(tuple(self.events(s) for s in self.services))
            time.sleep(0.3)
            return len(last) > 2 and last[-1] == last[-2] == last[-3]
        wait_until(quiet, timeout=30, message="event stores quiet")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("fuzz")
    nats = NatsServer(free_port(), base / "nats-store", log_file=base / "nats-server.log").start()
    keys_dir = base / "keys"
    keys.generate(keys_dir, "fuzz-1")
    token = [("authorization", "Bearer " + issue(Keyring.load(keys_dir), "user:fuzz", "ministry_operator", "bo"))]
    env = {"ANTT_NATS_URL": nats.url, "ANTT_RELAY_POLL_INTERVAL": "0.05", "ANTT_AUTH_REQUIRED": "true",
           "ANTT_AUTH_KEYS_DIR": str(keys_dir), "ANTT_NOTIFICATIONS_SCAN_INTERVAL": "3600",
           "ANTT_MAX_STRING_LENGTH": str(MAX_STRING), "ANTT_MAX_REPEATED": str(MAX_REPEATED),
           "ANTT_GRPC_MAX_MESSAGE_BYTES": str(4 * 1024 * 1024)}
    databases = {}
    for name in SERVICES:
        env[f"ANTT_{name.upper()}_GRPC_PORT"] = "0"
        databases[name] = base / f"{name}.db"
        env[f"ANTT_{name.upper()}_DATABASE_URL"] = f"sqlite:///{databases[name]}"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzz-services", daemon=True)
    thread.start()
    builders: dict[str, Callable[[ServiceSettings], Service]] = {
        "registry": build_registry, "assessment": build_assessment, "notifications": build_notifications,
        "reporting": build_reporting}
    services: dict[str, Service] = {}
    channels: dict[str, grpc.Channel] = {}
    with pytest.MonkeyPatch.context() as mp:  # create_server and the services read os.environ
        for key, value in env.items():
            mp.setenv(key, value)
        try:
            for name, build in builders.items():
                services[name] = asyncio.run_coroutine_threadsafe(_start(build, name, env), loop).result(60)
            for name, service in services.items():
                channels[name] = grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}", options=[
                    ("grpc.max_send_message_length", 64 * 1024 * 1024),
                    ("grpc.max_receive_message_length", 64 * 1024 * 1024)])
            stubs = {name: SERVICES[name][2](channels[name]) for name in services}
            unit_id = stubs["registry"].RegisterUnit(reg_pb.RegisterUnitRequest(
                code=UNIT[0], name="Khu dân cư thử nghiệm", unit_type="khu_dan_cu", province_code=UNIT[1],
                commune_code=UNIT[2], effective_date="2025-10-01"), metadata=token, timeout=30).unit_id
            wait_until(lambda: stubs["assessment"].CountReplicatedUnits(
                ass_pb.CountReplicatedUnitsRequest(), metadata=token, timeout=10).units == 1,
                timeout=30, message="unit replicated to assessment")
            case_id = stubs["assessment"].RegisterCase(ass_pb.RegisterCaseRequest(
                unit_id=unit_id, year=2026, dossier=[evidence("REG-FORM", "dk")], effective_date="2026-01-15"),
                metadata=token, timeout=30).case_id
            yield Stack(loop, services, stubs, channels, token, databases, unit_id, case_id)
        finally:
            for channel in channels.values():
                channel.close()
            for service in reversed(list(services.values())):
                asyncio.run_coroutine_threadsafe(service.stop(), loop).result(60)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            nats.stop()


async def _start(build: Callable[[ServiceSettings], Service], name: str, env: dict[str, str]) -> Service:
    service = build(ServiceSettings.from_env(name, env))
    await service.start(Roles(metrics=False))
    return service


# ---------------------------------------------------------------------------------------------- messages

WEIRD = ["", " ", "\x00", "a\x07b", "\x1b[2J", "\x7f", "\u0085", "\u200b", "\u202e", "\ufeff", "\U0010ffff",
         "e\u0301\u0301\u0301", unicodedata.normalize("NFD", "Tổ dân phố số 7, phường Đồng Hòa"),
         "'; DROP TABLE stored_events; --", "../../etc/passwd", "%s%n{0}", "null", "2026-13-45"]


SAFE = st.text(st.sampled_from("abcdeghiklmnopqrstuvxyĐđăâêôơưáàảãạấầẩẫậếềểễệốồổỗộớờởỡợúùủũụứừửữựíìỉĩị"
                                "ÁÀÂĂÊÔƠƯ0123456789 -_./,:@"), max_size=24)


def meaningful_values(field: FieldDescriptor, known: dict[str, list[str]]) -> list[str] | None:
    """The known values of a field, by its name or a "*suffix" entry."""
    return known.get(field.name) or next((v for k, v in known.items() if k.startswith("*")
                                          and field.name.endswith(k[1:])), None)


def text_values(field: FieldDescriptor, known: dict[str, list[str]], hostile: bool) -> st.SearchStrategy[str]:
    """Text for one string field: meaningful or plain when friendly; random, weird or oversized when hostile."""
    meaningful = meaningful_values(field, known)
    friendly = [st.sampled_from(meaningful)] * 3 if meaningful else []
    if not hostile:
        return st.sampled_from(meaningful) if meaningful else SAFE
    friendly.append(SAFE)
    unicode = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
    combining = st.text(st.characters(categories=("Mn", "Me")), min_size=1, max_size=50)
    oversized = st.builds(lambda ch, extra: ch * (MAX_STRING + extra), st.sampled_from("aệ\u0301"),
                          st.sampled_from([-1, 0, 1, 5000]))
    return st.one_of(*friendly, unicode, combining, st.sampled_from(WEIRD), oversized)


INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2 ** 31), 2 ** 31 - 1), FieldDescriptor.TYPE_SINT32: (-(2 ** 31), 2 ** 31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2 ** 31), 2 ** 31 - 1), FieldDescriptor.TYPE_UINT32: (0, 2 ** 32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2 ** 32 - 1), FieldDescriptor.TYPE_INT64: (-(2 ** 63), 2 ** 63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2 ** 63), 2 ** 63 - 1), FieldDescriptor.TYPE_SFIXED64: (-(2 ** 63), 2 ** 63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2 ** 64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2 ** 64 - 1),
}


def scalar(field: FieldDescriptor, known: dict[str, list[str]], hostile: bool) -> st.SearchStrategy[Any]:
    """A value of one non-message field."""
    if field.type == FieldDescriptor.TYPE_STRING:
        return text_values(field, known, hostile)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if field.type == FieldDescriptor.TYPE_FLOAT else 64)
    if field.type == FieldDescriptor.TYPE_ENUM:  # proto3 enums are open: unknown numbers too
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-3, 1000))
    low, high = INT_RANGES[field.type]
    years = [2025, 2026, 2027] if field.name == "year" else []
    plain = [st.sampled_from(years)] * 3 if years else [st.integers(0, 100)]
    if not hostile:
        return st.one_of(plain)
    return st.one_of(*plain, st.integers(low, high), st.sampled_from([low, high, 0, 1]))


@st.composite
def messages(draw: st.DrawFn, descriptor: Descriptor, known: dict[str, list[str]], hostile: bool,
             depth: int = 0) -> Message:
    """A random message of `descriptor`: each field set or not, nested up to three levels.

    Friendly messages hold plain and meaningful values, to get past the first checks into the domain;
    hostile ones also random unicode, oversized text, huge repeated fields and extreme numbers.
    """
    message = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        likely = not hostile and meaningful_values(field, known) is not None  # e.g. ids and dates: usually set
        if draw(st.integers(0, 19)) >= (17 if likely else 10):
            continue
        is_map = field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry
        if is_map:
            key_f, value_f = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            if value_f.type == FieldDescriptor.TYPE_MESSAGE:
                continue  # no request has a map of messages
            entries = draw(st.dictionaries(scalar(key_f, known, hostile), scalar(value_f, known, hostile), max_size=4))
            if hostile and draw(st.integers(0, 5)) == 0:  # sometimes over the element limit
                entries.update({f"k{i}": _cheap(value_f) for i in range(MAX_REPEATED + 1)})
            getattr(message, field.name).update(entries)
        elif field.is_repeated:
            huge = hostile and draw(st.integers(0, 5)) == 0
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if huge:
                    items = [message_factory.GetMessageClass(field.message_type)()] * (MAX_REPEATED + 1)
                elif depth >= 3:
                    items = []
                else:
                    items = draw(st.lists(messages(field.message_type, known, hostile, depth + 1), max_size=3))
                getattr(message, field.name).extend(items)
            else:
                count = MAX_REPEATED + draw(st.sampled_from([0, 1, 500])) if huge else None
                values = [_cheap(field)] * count if count else draw(st.lists(scalar(field, known, hostile), max_size=4))
                getattr(message, field.name).extend(values)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < 3:
                getattr(message, field.name).CopyFrom(draw(messages(field.message_type, known, hostile, depth + 1)))
            else:
                getattr(message, field.name).SetInParent()
        else:
            setattr(message, field.name, draw(scalar(field, known, hostile)))
    return message


def _cheap(field: FieldDescriptor) -> Any:
    return "x" if field.type == FieldDescriptor.TYPE_STRING else (b"x" if field.type == FieldDescriptor.TYPE_BYTES
                                                                   else 1)


def known_values(stack: Stack) -> dict[str, list[str]]:
    """Well-formed values that get past the first checks, by field name ("*suffix": names ending so)."""
    dates = ["2026-03-01", "2025-10-01", "2026-11-10", "2024-02-29", "2000-01-01", "2099-12-31"]
    return {
        "unit_id": [stack.unit_id, str(uuid.uuid4())], "case_id": [stack.case_id, str(uuid.uuid4())],
        "aggregate_id": [stack.case_id, stack.unit_id], "classification_id": [str(uuid.uuid4())],
        "province_code": ["31", "01", "99"], "commune_code": ["11948", "00145", "11560"],
        "code": [UNIT[0], "31", "11948", "KDC-MOI", "99999"], "parent_code": ["31", "01"],
        "source_codes": ["11948", "11560"], "area_code": ["31", "11948"], "successor_code": ["", "KDC-MOI"],
        "unit_type": ["khu_dan_cu", "doanh_nghiep", "co_quan", "co_so_giao_duc", "nha_truong"],
        "*_date": dates, "as_of": dates, "*_on": dates, "date": dates,
        "level": ["province", "commune", "district", "national"], "parent_level": ["province", "district"],
        "tier": ["xa", "huyen", "tinh", "bo"], "reason": ["sap_nhap", "giai_the", "ngoai_pham_vi", "khac"],
        "kind": ["REG-FORM", "REC-MINUTES", "tinh", "xa", "phuong", "thanh_pho"],
        "sha256": ["0" * 64, "ab" * 32], "uri": ["s3://ho-so/a.pdf"], "contact_email": ["a@example.vn"],
        "contact_webhook": ["https://example.vn/hook"], "criterion_id": [c.id for c in RULES.criteria[:6]],
        "number": ["12/QĐ-UBND"], "signer": ["Nguyễn Văn A"], "criteria_set_id": ["qd9745-xa", "qd9745-cqdn"],
        "size_class": ["sieu_nho", "nho", "vua", "lon"], "school_levels": ["tieu_hoc", "thcs"],
        "tax_code": ["0101234567", "0101234567-001"], "id": ["u:fuzz"], "role": ["commune_operator"],
        "jurisdiction": ["11948"], "year": ["2026"],
    }


# ---------------------------------------------------------------------------------------------- calls


def call(stack: Stack, service: str, method: MethodDescriptor, requests: list[Message]) -> grpc.StatusCode:
    """Make the call (a stream of `requests` for client-streaming methods); its status code."""
    stub_method = getattr(stack.stubs[service], method.name)
    try:
        if method.client_streaming:
            replies = stub_method(iter(requests), metadata=stack.token, timeout=30)
            list(replies) if method.server_streaming else None
        elif method.server_streaming:
            list(stub_method(requests[0], metadata=stack.token, timeout=30))
        else:
            stub_method(requests[0], metadata=stack.token, timeout=30)
    except grpc.RpcError as error:
        code = error.code()
        assert code not in CRASHES, (f"{service}.{method.name} crashed: {code} {error.details()}", requests)
        if code is not grpc.StatusCode.RESOURCE_EXHAUSTED:  # the size limit is gRPC's own, without details
            info = error_info(error)
            assert info is not None and info.reason and info.metadata["vi"] and info.metadata["en"], \
                (service, method.name, code, error.details())
        return code  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.fixture
def settled(stack: Stack, request: pytest.FixtureRequest) -> Stack:
    """The stack, settled when the service under test changes (consumers may still react to the last one's)."""
    service = request.node.callspec.params["service"]
    if stack.last_service != service:
        stack.settle()
        stack.last_service = service
    return stack


def check(stack: Stack, service: str, method: MethodDescriptor, requests: list[Message], command: bool) -> None:
    """One fuzzed call: no crash, still serving, and no events unless it succeeded (as a command)."""
    before = stack.events(service)
    code = call(stack, service, method, requests)
    after = stack.events(service)
    if code is not grpc.StatusCode.OK or not command:
        assert after == before, (f"{service}.{method.name} wrote {after - before} events and answered {code}",
                                 requests)
    assert stack.serving(service)


def request_list(draw: st.DrawFn, stack: Stack, method: MethodDescriptor) -> list[Message]:
    known = known_values(stack)
    count = draw(st.integers(0, 3)) if method.client_streaming else 1
    return [draw(messages(method.input_type, known, draw(st.integers(0, 2)) == 0)) for _ in range(count)]


FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])


@pytest.mark.parametrize(("service", "method"), COMMANDS, ids=[f"{s}.{m.name}" for s, m in COMMANDS])
@FUZZ
@given(data=st.data())
def test_commands_survive_random_input(settled: Stack, service: str, method: MethodDescriptor, data: st.DataObject
                                       ) -> None:
    check(settled, service, method, request_list(data.draw, settled, method), command=True)


@pytest.mark.parametrize(("service", "method"), QUERIES, ids=[f"{s}.{m.name}" for s, m in QUERIES])
@settings(FUZZ, max_examples=8)
@given(data=st.data())
def test_queries_survive_random_input(settled: Stack, service: str, method: MethodDescriptor, data: st.DataObject
                                      ) -> None:
    check(settled, service, method, request_list(data.draw, settled, method), command=False)


# ---------------------------------------------------------------------------------------------- limits


def test_oversized_message_is_resource_exhausted(stack: Stack) -> None:
    before = stack.events("registry")
    request = reg_pb.RegisterUnitRequest(code="KDC-TO", name="x" * (5 * 1024 * 1024), unit_type="khu_dan_cu",
                                         province_code=UNIT[1], commune_code=UNIT[2])
    with pytest.raises(grpc.RpcError) as caught:
        stack.stubs["registry"].RegisterUnit(request, metadata=stack.token, timeout=30)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert stack.events("registry") == before and stack.serving("registry")


def test_undecodable_request_is_invalid_argument(stack: Stack) -> None:
    raw = stack.channels["registry"].unary_unary("/antt.registry.v1.RegistryService/RegisterUnit",
                                                 request_serializer=lambda b: b, response_deserializer=lambda b: b)
    before = stack.events("registry")
    for garbage in (b"\xff\xff\xff\xff", b"\x12\x02\xc3\x28", b"\x0a\x05ab"):  # bad tag, bad UTF-8, truncated
        with pytest.raises(grpc.RpcError) as caught:
            raw(garbage, metadata=stack.token, timeout=30)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        info = error_info(caught.value)
        assert info is not None and info.reason == "REQUEST_MALFORMED"
    assert stack.events("registry") == before


def test_command_too_large_for_one_event_is_resource_exhausted(stack: Stack) -> None:
    request = ass_pb.RegisterCaseRequest(unit_id=stack.unit_id, year=2027, effective_date="2027-01-15")
    for i in range(150):  # 3.6 MB: within the gRPC message limit, but no NATS message could carry its event
        request.dossier.append(evidence("REG-FORM", f"{i}-" + "ệ" * 4000))
        request.dossier[-1].title = "ệ" * MAX_STRING
    before = stack.events("assessment")
    with pytest.raises(grpc.RpcError) as caught:
        stack.stubs["assessment"].RegisterCase(request, metadata=stack.token, timeout=30)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(caught.value)
    assert info is not None and info.reason == "REQUEST_TOO_LARGE" and info.metadata["vi"]
    assert stack.events("assessment") == before
    stack.settle()  # and the relays are not stuck behind it


def test_control_characters_and_decomposed_text(stack: Stack) -> None:
    registry = stack.stubs["registry"]
    with pytest.raises(grpc.RpcError) as caught:
        registry.UpdateUnit(reg_pb.UpdateUnitRequest(unit_id=stack.unit_id, name="Tổ\x1b[31m 7"),
                            metadata=stack.token, timeout=30)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(caught.value)
    assert info is not None and info.reason == "REQUEST_CONTROL_CHARACTER" and "name" in info.metadata["en"]
    decomposed = unicodedata.normalize("NFD", "Tổ dân phố Đồng Hòa")
    reply = registry.UpdateUnit(reg_pb.UpdateUnitRequest(unit_id=stack.unit_id, name=decomposed),
                                metadata=stack.token, timeout=30)
    assert reply.name == unicodedata.normalize("NFC", decomposed) != decomposed


def test_registry_refuses_what_the_replicas_cannot_store(stack: Stack) -> None:
    # notifications_units.managing_authority is VARCHAR(16) and contact_webhook VARCHAR(1000): PostgreSQL
    # would refuse longer values in the consumer, sending the unit's later events to the dead-letter stream
    for change in (dict(managing_authority="0" * 17), dict(contact_webhook="https://example.vn/" + "a" * 982)):
        with pytest.raises(grpc.RpcError) as caught:
            stack.stubs["registry"].UpdateUnit(reg_pb.UpdateUnitRequest(unit_id=stack.unit_id, **change),
                                               metadata=stack.token, timeout=30)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, change
    reply = stack.stubs["registry"].UpdateUnit(reg_pb.UpdateUnitRequest(
        unit_id=stack.unit_id, managing_authority="0" * 16, contact_webhook="https://example.vn/" + "a" * 981),
        metadata=stack.token, timeout=30)
    assert reply.managing_authority == "0" * 16 and len(reply.contact_webhook) == 1000

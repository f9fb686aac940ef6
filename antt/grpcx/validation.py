"""Request validation for every gRPC service: one descriptor-driven walk of each incoming message.

The walk visits every set field (nested messages, repeated fields and maps included) and:

- rejects text with control characters (Unicode category Cc) other than tab, line feed and carriage
  return, which free text (reasons, notes, addresses) may legitimately contain;
- normalises text to NFC in place rather than rejecting it: Vietnamese keyboards and legacy files
  ("Unicode tổ hợp", macOS input) commonly send decomposed text, which is the same text to a reader;
  after normalisation the stored form is canonical, so equal names compare equal everywhere;
- rejects text longer than `max_string_length` characters (measured after normalisation);
- rejects repeated and map fields with more than `max_repeated` elements.

Sizes: gRPC itself refuses any message over `max_message_bytes` with RESOURCE_EXHAUSTED (bytes
fields are bounded only by that); a unary request over `max_unary_bytes` is refused here with
RESOURCE_EXHAUSTED too, because the events it records must each fit one NATS message (1 MiB):
an unpublishable event would stop the service's outbox relay for good. A request that does not even
parse as its message type becomes INVALID_ARGUMENT instead of an internal error (gRPC says UNKNOWN).
Violations are INVALID_ARGUMENT with an ErrorInfo reason and the offending field path (e.g. `rows[3].name`). Handlers that read requests
with `context.read()` instead of the request iterator are not covered (none in this code base).
"""

from __future__ import annotations

import inspect
import logging
import operator
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import chain
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2

from antt.errors import InvalidArgumentError
from antt.grpcx.auth import status_with_reason
from antt.grpcx.errors import abort_with
from antt.settings import RequestLimits

log = logging.getLogger(__name__)

ALLOWED_CONTROLS = frozenset("\t\n\r")
# Unicode's Cc (control) category is U+0000–U+001F and U+007F–U+009F, a set its stability policy
# freezes; one regex search finds the first forbidden one (tests check it against every code point).
FORBIDDEN_CONTROLS = re.compile("[" + "".join(
    re.escape(chr(c)) for c in (*range(0x20), *range(0x7F, 0xA0))
    if unicodedata.category(chr(c)) == "Cc" and chr(c) not in ALLOWED_CONTROLS) + "]")


class RequestValidationError(InvalidArgumentError):
    """A request field breaks the kernel's text or size limits."""

    reason = "REQUEST_INVALID"


class _Undecodable:
    """Stands in for a request whose bytes do not parse as its message type."""


UNDECODABLE = _Undecodable()


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def is_file_row(message: Message) -> bool:
    """Rows of an import file (`…Row` messages): the service checks their cells and reports errors by
    file row and column, which an operator can fix; rejecting the whole chunk here would hide that."""
    return message.DESCRIPTOR.name.endswith("Row")


MAP, STRINGS, MESSAGES, LIST, STRING, MESSAGE, OTHER = range(7)
# What the walk does with a field, worked out once per field descriptor (descriptors live as long as
# their message types): every request of every call is walked, field by field.
_KINDS: dict[FieldDescriptor, int] = {}
_FILE_ROWS: dict[Any, bool] = {}


def _kind(field: FieldDescriptor) -> int:
    kind = _KINDS.get(field)
    if kind is None:
        if _is_map(field):
            kind = MAP
        elif field.is_repeated:
            kind = {FieldDescriptor.TYPE_STRING: STRINGS, FieldDescriptor.TYPE_MESSAGE: MESSAGES}.get(field.type, LIST)
        else:
            kind = {FieldDescriptor.TYPE_STRING: STRING, FieldDescriptor.TYPE_MESSAGE: MESSAGE}.get(field.type, OTHER)
        _KINDS[field] = kind
    return kind


def clean_text(value: str, path: str, limits: RequestLimits, check_controls: bool = True) -> str:
    """The NFC form of `value`, or RequestValidationError naming `path`."""
    found = FORBIDDEN_CONTROLS.search(value) if check_controls else None
    if found is not None:  # the first one, as a walk over the characters meets it
        ch = found.group()
        raise RequestValidationError(
            f"trường {path} chứa ký tự điều khiển không được phép (U+{ord(ch):04X})",
            f"field {path} contains a forbidden control character (U+{ord(ch):04X})",
            field=path, reason="REQUEST_CONTROL_CHARACTER")
    # ASCII text is always NFC
    text = value if value.isascii() or unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)
    if len(text) > limits.max_string_length:
        raise RequestValidationError(
            f"trường {path} dài {len(text)} ký tự, vượt giới hạn {limits.max_string_length}",
            f"field {path} is {len(text)} characters long, over the limit of {limits.max_string_length}",
            field=path, reason="REQUEST_STRING_TOO_LONG")
    return text


def _count(count: int, path: str, limits: RequestLimits) -> None:
    if count > limits.max_repeated:
        raise RequestValidationError(
            f"trường {path} có {count} phần tử, vượt giới hạn {limits.max_repeated}",
            f"field {path} has {count} elements, over the limit of {limits.max_repeated}",
            field=path, reason="REQUEST_TOO_MANY_ITEMS")


def validate_message(message: Message, limits: RequestLimits, prefix: str = "") -> None:
    """Check (and NFC-normalise in place) every text field of `message`, recursively."""
    descriptor = message.DESCRIPTOR
    check_controls = _FILE_ROWS.get(descriptor)
    if check_controls is None:
        check_controls = _FILE_ROWS[descriptor] = not is_file_row(message)
    longest, search = limits.max_string_length, FORBIDDEN_CONTROLS.search
    for field, value in message.ListFields():
        kind = _KINDS.get(field)
        if kind is None:
            kind = _kind(field)
        if kind == OTHER:
            continue
        if kind == STRING:
            if value.isascii() and len(value) <= longest and (not check_controls or search(value) is None):
                continue  # what clean_text gives it back: ASCII is NFC, short, without a forbidden control
            path = f"{prefix}{field.name}"
            cleaned = clean_text(value, path, limits, check_controls)
            if cleaned is not value:
                setattr(message, field.name, cleaned)
            continue
        path = f"{prefix}{field.name}"
        if kind == MESSAGE:
            validate_message(value, limits, f"{path}.")
        elif kind == MAP:
            _count(len(value), path, limits)
            _validate_map(field, value, path, limits)
        else:
            _count(len(value), path, limits)
            if kind == STRINGS:
                for i, item in enumerate(value):
                    cleaned = clean_text(item, f"{path}[{i}]", limits, check_controls)
                    if cleaned is not item:
                        value[i] = cleaned
            elif kind == MESSAGES:
                for i, item in enumerate(value):
                    validate_message(item, limits, f"{path}[{i}].")


_Plan = tuple[Any, tuple[Any, ...], tuple[Any, ...], tuple[tuple[Any, bool], ...], tuple[str, ...]]


def _plan(descriptor: Any) -> _Plan:
    """What `is_clean` reads of one message type: a getter of its singular text fields (None if none),
    getters of its repeated text fields, of its repeated message fields and of its other repeated and
    map fields (with whether each is a map), and the names of its singular message fields."""
    kinds = {f.name: _kind(f) for f in descriptor.fields}
    names = {k: tuple(n for n, kind in kinds.items() if kind == k) for k in range(7)}
    # attrgetter reads them all in one call; a tuple needs two names, so a lone field is named twice.
    # An unset proto3 field reads "", which passes every check.
    text = names[STRING] * 2 if len(names[STRING]) == 1 else names[STRING]
    get = operator.attrgetter
    return (get(*text) if text else None, tuple(map(get, names[STRINGS])), tuple(map(get, names[MESSAGES])),
            tuple((get(n), False) for n in names[LIST]) + tuple((get(n), True) for n in names[MAP]),
            names[MESSAGE])


_PLANS: dict[type, _Plan] = {}  # per message class (as long-lived as its descriptor)


def is_clean(message: Message, limits: RequestLimits) -> bool:
    """True when `validate_message` would neither change nor reject `message`: every text NFC, short
    and without a control character, every repeated field within bounds, every map empty.

    The common request passes this in one pass without building field paths; anything else (including
    control characters a file row may hold) goes through `validate_message`, which owns the outcome.
    The walk takes the messages of one type in a field together (all the items of a repeated field,
    then all of theirs): each check runs once per field over the whole group, in C (map, chain),
    instead of once per message in Python: a request's dozens of results cost a few steps.
    """
    plans, strings, groups = _PLANS, [], [[message]]
    keep, push, pop, flat = strings.extend, groups.append, groups.pop, chain.from_iterable
    most = limits.max_repeated
    while groups:
        group = pop()  # never empty: messages of one class
        kind = type(group[0])
        plan = plans.get(kind)
        if plan is None:
            plan = plans[kind] = _plan(group[0].DESCRIPTOR)
        text, lists, repeated, bounded, messages = plan
        if text is not None:
            keep(flat(map(text, group)))
        for get in lists:
            found = list(map(get, group))
            if max(map(len, found)) > most:
                return False
            keep(flat(found))
        for get in repeated:
            found = list(map(get, group))
            if max(map(len, found)) > most:
                return False
            items = list(flat(found))
            if items:
                push(items)
        for get, is_map in bounded:
            counts = list(map(len, map(get, group)))
            if max(counts) > most or (is_map and any(counts)):  # a map's keys and values are left to the walk
                return False
        for name in messages:
            present = [getattr(m, name) for m in group if m.HasField(name)]
            if present:
                push(present)
    # A line feed is allowed and a stable code point (it never combines with its neighbours), so the
    # joined text is NFC exactly when every piece is, and holds a forbidden control exactly when one does.
    text = "\n".join(strings)
    longest = limits.max_string_length
    return (FORBIDDEN_CONTROLS.search(text) is None
            and (text.isascii() or unicodedata.is_normalized("NFC", text))
            and (len(text) <= longest or max(map(len, strings), default=0) <= longest))


def _validate_map(field: FieldDescriptor, value: Any, path: str, limits: RequestLimits) -> None:
    key_field = field.message_type.fields_by_name["key"]
    value_field = field.message_type.fields_by_name["value"]
    entries = list(value.items())
    changed: list[tuple[Any, Any, Any]] = []  # (old key, new key, new scalar value or None for messages)
    for key, item in entries:
        where = f"{path}[{key!r}]"
        new_key = clean_text(key, f"{path}.key", limits) if key_field.type == FieldDescriptor.TYPE_STRING else key
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            validate_message(item, limits, f"{where}.")
            if new_key != key:
                changed.append((key, new_key, None))
        else:
            new_item = clean_text(item, where, limits) if value_field.type == FieldDescriptor.TYPE_STRING else item
            if new_key != key or new_item != item:
                changed.append((key, new_key, new_item))
    for key, new_key, new_item in changed:
        if new_item is None:  # a message value: move it under the normalised key
            moved = value[key]
            copy = type(moved)()
            copy.CopyFrom(moved)
            del value[key]
            value[new_key].CopyFrom(copy)
        else:
            del value[key]
            value[new_key] = new_item


def _check(request: Any, limits: RequestLimits) -> None:
    if request is UNDECODABLE:
        raise RequestValidationError("yêu cầu không đúng định dạng protobuf của phương thức",
                                     "the request is not a valid message of the method's type",
                                     reason="REQUEST_MALFORMED")
    if not is_clean(request, limits):
        validate_message(request, limits)


async def _check_unary_size(request: Any, limits: RequestLimits, context: grpc.aio.ServicerContext) -> None:
    """A unary request becomes a few events at most; each must fit one NATS message, so cap the request.

    Streamed requests (imports) are exempt: each of their rows becomes an event of its own.
    """
    size = request.ByteSize() if isinstance(request, Message) else 0
    if size > limits.max_unary_bytes:
        await context.abort_with_status(status_with_reason(
            code_pb2.RESOURCE_EXHAUSTED, "REQUEST_TOO_LARGE",
            f"yêu cầu {size} byte, vượt giới hạn {limits.max_unary_bytes} byte",
            f"the request is {size} bytes, over the limit of {limits.max_unary_bytes} bytes"))


class ValidationInterceptor(grpc.aio.ServerInterceptor):
    """Validates every request message (unary and streamed) before the servicer sees it."""

    def __init__(self, limits: RequestLimits, open_prefixes: tuple[str, ...] = ()) -> None:
        self.limits = limits
        self.open_prefixes = open_prefixes

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or method.startswith(self.open_prefixes):
            return handler
        return _wrap(handler, self.limits)


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that yields UNDECODABLE instead of raising (gRPC would answer UNKNOWN)."""
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the client's fault
            log.info("undecodable request: %s", exc)
            return UNDECODABLE
    return deserialize


async def _settle(result: Any) -> Any:
    """Await a coroutine handler's result; a plain handler's result is already there."""
    return await result if inspect.isawaitable(result) else result


def _wrap(handler: grpc.RpcMethodHandler, limits: RequestLimits) -> grpc.RpcMethodHandler:
    """The same handler kind with every request checked first."""

    async def checked(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            _check(request, limits)
        except RequestValidationError as error:
            await abort_with(context, error)
        return request

    async def checked_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _check_unary_size(request, limits, context)
        return await checked(request, context)

    def unary_request(inner: Callable[..., Any], streaming_reply: bool) -> Callable[..., Any]:
        if streaming_reply and inspect.isasyncgenfunction(inner):
            async def gen(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async for item in inner(await checked_unary(request, context), context):
                    yield item
            return gen

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await _settle(inner(await checked_unary(request, context), context))
        return call

    def stream_request(inner: Callable[..., Any], streaming_reply: bool) -> Callable[..., Any]:
        def requests(iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async def each() -> AsyncIterator[Any]:
                async for request in iterator:
                    yield await checked(request, context)
            return each()

        if streaming_reply and inspect.isasyncgenfunction(inner):
            async def gen(iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async for item in inner(requests(iterator, context), context):
                    yield item
            return gen

        async def call(iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            return await _settle(inner(requests(iterator, context), context))
        return call

    kw = dict(request_deserializer=_tolerant(handler.request_deserializer),
              response_serializer=handler.response_serializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary_request(handler.unary_unary, False), **kw)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(unary_request(handler.unary_stream, True), **kw)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(stream_request(handler.stream_unary, False), **kw)
    return grpc.stream_stream_rpc_method_handler(stream_request(handler.stream_stream, True), **kw)


def server_options(limits: RequestLimits) -> list[tuple[str, int]]:
    """Channel arguments bounding the size of every message a server receives and sends."""
    return [("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes)]

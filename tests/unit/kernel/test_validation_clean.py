"""`is_clean` (the one-pass check that lets a request skip the path-building walk) against the walk itself,
over random messages of the real request types: a request it passes must be one the walk leaves alone,
and the kernel's check (`_check`) must end the same as the walk on every request."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.assessment.v1 import assessment_service_pb2 as apb
from antt.grpcx.validation import RequestValidationError, _check, is_clean, validate_message
from antt.registry.v1 import registry_service_pb2 as rpb
from antt.settings import RequestLimits

pytestmark = pytest.mark.unit

LIMITS = RequestLimits(max_message_bytes=1 << 20, max_unary_bytes=1 << 19, max_string_length=8, max_repeated=3)
TYPES = sorted((getattr(module, name) for module in (apb, rpb) for name in dir(module)
                if name.endswith(("Request", "Row")) and isinstance(getattr(module, name), type)
                and issubclass(getattr(module, name), Message)), key=lambda t: t.DESCRIPTOR.full_name)
PIECES = ["a", "Z", "Đ", "ệ", "o\u0302", "\u0301", "\x07", "\t", "\n", "\r", "\x7f", "\x85", "\x9f", " "]
TEXT = st.lists(st.sampled_from(PIECES), max_size=10).map("".join) | st.text(max_size=10)
SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_BOOL: st.booleans(), FieldDescriptor.TYPE_DOUBLE: st.floats(-1e6, 1e6),
    FieldDescriptor.TYPE_FLOAT: st.just(1.5), FieldDescriptor.TYPE_BYTES: st.binary(max_size=6),
    FieldDescriptor.TYPE_ENUM: st.just(0),
}


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return TEXT
    return SCALARS.get(field.type, st.integers(0, 1000))


def fill(draw: Any, message: Message, depth: int) -> None:
    """Set a random subset of `message`'s fields (messages nested up to `depth` levels)."""
    for field in message.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        sub = field.message_type
        if sub is not None and sub.GetOptions().map_entry:
            key, value = sub.fields_by_name["key"], sub.fields_by_name["value"]
            target = getattr(message, field.name)
            for _ in range(draw(st.integers(0, 4))):
                k = draw(_scalar(key))
                if value.type == FieldDescriptor.TYPE_MESSAGE:
                    if depth > 0:
                        fill(draw, target[k], depth - 1)
                else:
                    target[k] = draw(_scalar(value))
        elif field.is_repeated:
            target = getattr(message, field.name)
            for _ in range(draw(st.integers(0, 4))):
                if sub is not None:
                    if depth > 0:
                        fill(draw, target.add(), depth - 1)
                else:
                    target.append(draw(_scalar(field)))
        elif sub is not None:
            if depth > 0:
                getattr(message, field.name).SetInParent()
                fill(draw, getattr(message, field.name), depth - 1)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            setattr(message, field.name, draw(st.sampled_from([v.number for v in field.enum_type.values])))
        else:
            setattr(message, field.name, draw(_scalar(field)))


@st.composite
def requests(draw: Any) -> Message:
    message = draw(st.sampled_from(TYPES))()
    fill(draw, message, 3)
    return message


def ending(check: Any, message: Message) -> tuple[Any, ...]:
    """What a check does to a copy of `message`: its error (reason, field, messages) and the bytes after."""
    copy = type(message)()
    copy.CopyFrom(message)
    try:
        check(copy, LIMITS)
        error: tuple[Any, ...] = ()
    except RequestValidationError as invalid:
        error = (invalid.reason, invalid.field, invalid.message_vi, invalid.message_en)
    return error, copy.SerializeToString(deterministic=True)


@settings(max_examples=600, deadline=None)
@given(requests())
def test_a_clean_request_is_one_the_walk_leaves_alone(message: Message) -> None:
    walked = ending(validate_message, message)
    if is_clean(message, LIMITS):
        assert walked == ((), message.SerializeToString(deterministic=True))
    assert ending(_check, message) == walked


def test_every_request_type_is_generated_and_clean_requests_are_seen() -> None:
    names = {t.DESCRIPTOR.name for t in TYPES}
    assert {"SubmitCaseRequest", "DecideCasesRequest", "ImportRow"} <= names
    request = apb.DecideCasesRequest(cases=[apb.CaseOutcome(case_id="c1")] * 3)
    request.decision.number = "Số 1/QĐ"
    assert is_clean(request, LIMITS)
    for bad in (apb.DecideCasesRequest(cases=[apb.CaseOutcome(case_id="c")] * 4),
                apb.DecideCasesRequest(cases=[apb.CaseOutcome(case_id="o\u0302")]),
                apb.DecideCasesRequest(cases=[apb.CaseOutcome(case_id="a\x85")]),
                apb.DecideCasesRequest(cases=[apb.CaseOutcome(case_id="123456789")])):
        assert not is_clean(bad, LIMITS)  # rejected, or (decomposed text) normalised
        assert ending(_check, bad) != ((), bad.SerializeToString(deterministic=True))

"""The request walk's fast paths (one regex for control characters, ASCII is NFC, per-field kinds) against
the character-by-character definition they replace."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.common.v1 import actor_pb2
from antt.grpcx.validation import (
    ALLOWED_CONTROLS, FORBIDDEN_CONTROLS, RequestValidationError, clean_text, validate_message,
)
from antt.registry.v1 import registry_service_pb2 as pb
from antt.settings import RequestLimits

pytestmark = pytest.mark.unit

LIMITS = RequestLimits(max_message_bytes=1 << 20, max_unary_bytes=1 << 19, max_string_length=12, max_repeated=3)


def reference_clean(value: str, path: str, limits: RequestLimits, check_controls: bool = True) -> str:
    """The definition: every character's category, then NFC, then the length."""
    for ch in value if check_controls else ():
        if unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS:
            raise RequestValidationError(f"U+{ord(ch):04X}", f"U+{ord(ch):04X}", field=path,
                                         reason="REQUEST_CONTROL_CHARACTER")
    text = unicodedata.normalize("NFC", value)
    if len(text) > limits.max_string_length:
        raise RequestValidationError("long", "long", field=path, reason="REQUEST_STRING_TOO_LONG")
    return text


def test_the_pattern_forbids_exactly_the_control_characters_of_every_code_point() -> None:
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        forbidden = unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS
        assert (FORBIDDEN_CONTROLS.fullmatch(ch) is not None) == forbidden, hex(code)


def outcome(clean: object, value: str, check: bool) -> tuple[object, ...]:
    try:
        return ("ok", clean(value, "f", LIMITS, check))  # type: ignore[operator]
    except RequestValidationError as error:
        return (error.reason, error.field, error.message_en.rsplit("U+", 1)[-1][:4] if "U+" in error.message_en else "")


PIECES = ["a", "Đ", "o\u0302", "\u0301", "\x07", "\t", "\n", "\x7f", "\x9f", "\x85", " ", "\u00a0", "\u200b", "ệ"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=16).map("".join) | st.text(max_size=16)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.booleans())
def test_clean_text_is_the_character_by_character_definition(value: str, check: bool) -> None:
    assert outcome(clean_text, value, check) == outcome(reference_clean, value, check)


def reference_walk(message: object, prefix: str = "") -> list[str]:
    """Every text field path and value of a message, in the order the walk meets them."""
    seen: list[str] = []
    for field, value in message.ListFields():  # type: ignore[attr-defined]
        path = f"{prefix}{field.name}"
        if field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            seen += [f"{path}[{k!r}]={v}" for k, v in sorted(value.items())]
        elif field.is_repeated and field.type == field.TYPE_MESSAGE:
            for i, item in enumerate(value):
                seen += reference_walk(item, f"{path}[{i}].")
        elif field.type == field.TYPE_MESSAGE:
            seen += reference_walk(value, f"{path}.")
        elif field.type == field.TYPE_STRING:
            seen.append(f"{path}={value}")
    return seen


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "o\u0302", "\u0301", "\x07", "Đ"]), max_size=6).map("".join),
                min_size=1, max_size=5))
def test_the_walk_normalises_and_refuses_as_the_definition_does(texts: list[str]) -> None:
    request = pb.ImportUnitsRequest(source_name=texts[0], columns={t: t for t in texts[:2]},
                                    rows=[pb.ImportRow(name=t, code=t) for t in texts[:3]])
    request.actor.CopyFrom(actor_pb2.Actor(id=texts[-1]))
    expected = pb.ImportUnitsRequest()
    expected.CopyFrom(request)
    want: tuple[object, ...]
    try:  # the definition, applied by hand: file rows keep control characters, everything else refuses them
        for t in texts[:2]:
            reference_clean(t, "", LIMITS)
        reference_clean(texts[0], "", LIMITS)
        reference_clean(texts[-1], "", LIMITS)
        if len(request.rows) > LIMITS.max_repeated or len(request.columns) > LIMITS.max_repeated:
            raise RequestValidationError("n", "n", reason="REQUEST_TOO_MANY_ITEMS")
        for t in texts[:3]:
            reference_clean(t, "", LIMITS, check_controls=False)
        want = ("ok",)
    except RequestValidationError as error:
        want = ("refused", error.reason)
    try:
        validate_message(request, LIMITS)
        got: tuple[object, ...] = ("ok",)
    except RequestValidationError as error:
        got = ("refused", error.reason)
    assert (got[0], got[0] == "ok" or got[1] in {"REQUEST_CONTROL_CHARACTER", "REQUEST_STRING_TOO_LONG",
                                                 "REQUEST_TOO_MANY_ITEMS"}) == (want[0], True)
    if got == ("ok",):
        # sorted: a map's entries have no order, and normalising its keys may reorder them
        normalised = sorted(unicodedata.normalize("NFC", s) for s in reference_walk(expected))
        assert sorted(reference_walk(request)) == normalised

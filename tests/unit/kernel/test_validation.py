"""The descriptor-driven request checks of antt.grpcx.validation on real request messages."""

from __future__ import annotations

import unicodedata

import pytest

from antt.common.v1 import actor_pb2
from antt.grpcx.validation import RequestValidationError, validate_message
from antt.registry.v1 import registry_service_pb2 as pb
from antt.settings import RequestLimits

pytestmark = pytest.mark.unit

LIMITS = RequestLimits(max_message_bytes=1 << 20, max_unary_bytes=1 << 19, max_string_length=20, max_repeated=3)
NFD = unicodedata.normalize("NFD", "Tổ dân phố Đồng Hòa")
NFC = unicodedata.normalize("NFC", NFD)


def reject(message: object) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as caught:
        validate_message(message, LIMITS)  # type: ignore[arg-type]
    assert caught.value.message_vi and caught.value.message_en and caught.value.field
    return caught.value


def test_decomposed_text_is_normalised_in_place_everywhere() -> None:
    request = pb.ImportUnitsRequest(columns={NFD: NFD}, rows=[pb.ImportRow(name=NFD)])
    request.actor.CopyFrom(actor_pb2.Actor(id=NFD))
    assert NFD != NFC
    validate_message(request, LIMITS)
    assert request.rows[0].name == NFC and request.actor.id == NFC
    assert dict(request.columns) == {NFC: NFC}
    facts = pb.RegisterUnitRequest(facts=pb.EligibilityFacts(school_levels=["x", NFD]))
    validate_message(facts, LIMITS)
    assert list(facts.facts.school_levels) == ["x", NFC]


def test_tab_newline_and_carriage_return_are_allowed() -> None:
    request = pb.CloseUnitRequest(reason="dòng 1\r\n\tdòng 2")
    validate_message(request, LIMITS)
    assert request.reason == "dòng 1\r\n\tdòng 2"


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_rejected_with_the_field_path(bad: str) -> None:
    error = reject(pb.ImportUnitsRequest(source_name=f"a{bad}b"))
    assert error.reason == "REQUEST_CONTROL_CHARACTER" and error.field == "source_name"
    assert reject(pb.RegisterUnitRequest(actor=actor_pb2.Actor(id=bad))).field == "actor.id"
    assert reject(pb.ImportUnitsRequest(columns={"name": bad})).field == "columns['name']"
    assert reject(pb.ImportUnitsRequest(columns={bad: "x"})).field == "columns.key"
    assert reject(pb.RegisterUnitRequest(tax_code=bad)).field == "tax_code"  # proto3 optional


def test_file_rows_leave_control_characters_to_the_service_row_report() -> None:
    # The registry reports them as (row, column) errors an operator can fix; lengths still apply.
    request = pb.ImportUnitsRequest(rows=[pb.ImportRow(row_number=7, name="a\x07b")])
    validate_message(request, LIMITS)
    assert request.rows[0].name == "a\x07b"
    assert reject(pb.ImportUnitsRequest(rows=[pb.ImportRow(name="x" * 21)])).field == "rows[0].name"


def test_long_text_is_rejected_after_normalisation() -> None:
    validate_message(pb.RegisterUnitRequest(name="x" * 20), LIMITS)
    error = reject(pb.RegisterUnitRequest(name="x" * 21))
    assert error.reason == "REQUEST_STRING_TOO_LONG" and error.field == "name"
    # 20 base letters + 20 combining marks compose to 20 characters: within the limit once normalised
    validate_message(pb.RegisterUnitRequest(name="a\u0301" * 20), LIMITS)


def test_too_many_elements_are_rejected() -> None:
    validate_message(pb.ImportUnitsRequest(rows=[pb.ImportRow()] * 3), LIMITS)
    error = reject(pb.ImportUnitsRequest(rows=[pb.ImportRow()] * 4))
    assert error.reason == "REQUEST_TOO_MANY_ITEMS" and error.field == "rows"
    assert reject(pb.ImportUnitsRequest(columns={str(i): "" for i in range(4)})).field == "columns"
    nested = pb.RegisterUnitRequest(facts=pb.EligibilityFacts(school_levels=["a"] * 4))
    assert reject(nested).field == "facts.school_levels"


def test_limits_come_from_the_environment() -> None:
    limits = RequestLimits.from_env({"ANTT_MAX_STRING_LENGTH": "7", "ANTT_MAX_REPEATED": "2"})
    assert (limits.max_string_length, limits.max_repeated) == (7, 2)
    assert (limits.max_message_bytes, limits.max_unary_bytes) == (16 * 1024 * 1024, 512 * 1024)

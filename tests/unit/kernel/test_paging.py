"""The kernel's page tokens and page sizes (antt.grpcx.paging), shared by every paged list call."""

from __future__ import annotations

import base64

import pytest

from antt.errors import ErrorKind, InvalidArgumentError
from antt.grpcx.paging import decode_page_index, decode_page_token, encode_page_token, page_size

pytestmark = pytest.mark.unit


def test_tokens_keep_the_wire_format_of_issued_tokens() -> None:
    # tokens already handed to clients stay readable: unpadded URL-safe base64 of "v1:<position>"
    assert encode_page_token("KDC-01") == base64.urlsafe_b64encode(b"v1:KDC-01").decode().rstrip("=")
    assert "=" not in encode_page_token("ab")
    assert decode_page_token(base64.urlsafe_b64encode(b"v1:xa/00145").decode()) == "xa/00145"


@pytest.mark.parametrize("position", ["", "KDC-01", "xã Đồng Hòa/00145", '{"at": "2026-02-03T08:00:00+07:00"}'])
def test_positions_round_trip(position: str) -> None:
    assert decode_page_token(encode_page_token(position)) == position


def test_indexes_round_trip_and_an_empty_token_is_the_first_page() -> None:
    assert decode_page_index(encode_page_token(1234)) == 1234
    assert (decode_page_index(""), decode_page_token("")) == (0, "")


@pytest.mark.parametrize("token", ["???", "not-a-token", base64.urlsafe_b64encode(b"v2:5").decode(), "\u00e9"])
def test_a_token_not_issued_is_invalid_argument_on_page_token(token: str) -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        decode_page_token(token)
    assert exc.value.kind is ErrorKind.INVALID_ARGUMENT and exc.value.field == "page_token"
    assert exc.value.message == "Mã trang không hợp lệ / invalid page token"


@pytest.mark.parametrize("position", ["abc", "", "-3", "\u00b2"])
def test_an_index_token_must_carry_digits(position: str) -> None:
    with pytest.raises(InvalidArgumentError):
        decode_page_index(encode_page_token(position))


def test_page_size_defaults_and_caps() -> None:
    assert (page_size(0, 100, 1000), page_size(7, 100, 1000), page_size(5000, 100, 1000)) == (100, 7, 1000)

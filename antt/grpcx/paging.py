"""Paged list calls: the page size to use and opaque page tokens, the same for every service.

A token is the URL-safe base64 (unpadded) of "v1:<position>"; what the position means (a key, an
index, a small JSON object) is the caller's. A token that is not one is INVALID_ARGUMENT on
`page_token`.
"""

from __future__ import annotations

import base64

from antt.errors import InvalidArgumentError

FIELD = "page_token"
_VERSION = "v1:"


def invalid_page_token() -> InvalidArgumentError:
    """The error for a page token the service did not issue."""
    return InvalidArgumentError("Mã trang không hợp lệ", "invalid page token", field=FIELD)


def page_size(requested: int, default: int, maximum: int) -> int:
    """The page size to use: the default when 0, capped at the maximum."""
    return default if requested == 0 else min(requested, maximum)


def encode_page_token(position: str | int) -> str:
    """An opaque page token for the position after which (or at which) the next page starts."""
    return base64.urlsafe_b64encode(f"{_VERSION}{position}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    """The position in a page token ("" for the first page, an empty token); INVALID_ARGUMENT when malformed."""
    if not token:
        return ""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        text = ""
    if not text.startswith(_VERSION):
        raise invalid_page_token()
    return text[len(_VERSION):]


def decode_page_index(token: str) -> int:
    """The index in a page token made from an int (0 for the first page); INVALID_ARGUMENT when malformed."""
    if not token:
        return 0
    text = decode_page_token(token)
    if not (text.isascii() and text.isdigit()):
        raise invalid_page_token()
    return int(text)

"""The header-value cleaning's shortcut gives what nats-py's strip-and-replace gives, for any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.contracts import envelope

pytestmark = pytest.mark.unit

# Every character str.strip() removes, plus CR/LF inside: the cases the shortcut must hand on.
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(WHITESPACE), max_size=30)


def reference(value: str) -> str:
    """nats-py's cleaning of a header value."""
    return value.strip().translate(str.maketrans({"\r": " ", "\n": " "}))


@settings(max_examples=500, deadline=None)
@given(value=TEXT)
def test_clean_is_strip_and_newlines_to_spaces(value: str) -> None:
    assert envelope._clean(value) == reference(value)


@pytest.mark.parametrize("value", ["", " ", "a ", " a", "a\r\nb", "\xa0a", "a\u3000", "\x1fa", "a\tb", "a\x85",
                                   "registry:12", "2026-01-01T00:00:00+00:00"])
def test_clean_edge_cases(value: str) -> None:
    assert envelope._clean(value) == reference(value)

"""The envelope of a header block in `header_block`'s layout, read with one match, equals the line-by-line read
(the reference), for any values the relay may send and for blocks that only look like that layout."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antt.contracts import envelope
from antt.contracts.envelope import Envelope, EnvelopeError
from antt.messaging import raw

pytestmark = pytest.mark.unit

# Anything a str may hold, CR, LF and spaces at the ends included: header_block cleans them as nats-py does.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
hexes = st.text(string.hexdigits, max_size=64)


def reference(block: bytes) -> Envelope | str:
    """The line-by-line read, or the error it raises."""
    try:
        return raw.envelope_of_lines(block.decode("utf-8", "replace"))
    except EnvelopeError as exc:
        return f"error: {exc}"


def fast(block: bytes) -> Envelope | str:
    try:
        return raw.envelope_of(block)
    except EnvelopeError as exc:
        return f"error: {exc}"


@given(service=st.sampled_from(["registry", "assessment"]), position=st.integers(0, 2**62), ce_type=texts,
       time=texts, subject=texts, actor=texts, digest=hexes | texts, prev=hexes, expected=st.just("") | texts,
       stream=texts)
def test_header_blocks_read_as_line_by_line(service: str, position: int, ce_type: str, time: str, subject: str,
                                            actor: str, digest: str, prev: str, expected: str, stream: str) -> None:
    env = envelope.new(service, position, ce_type, time, subject, actor, digest, prev)
    block = envelope.header_block(env, expected, stream)
    assert fast(block) == reference(block)


@given(edit=st.sampled_from([
    (b"ce-time: ", b"ce-time:"),  # no space after the colon
    (b"antt-position: ", b"antt-position:  "),  # more
    (b"antt-actor: ", b"antt-actor: \n"),  # a stray LF inside a value
    (b"antt-actor: ", b"antt-actor: \r"),  # a stray CR
    (b"Nats-Expected-Stream: ", b"ce-id: again\r\nNats-Expected-Stream: "),  # a header repeated later
    (b"Nats-Expected-Stream: ", b"antt-actor: again\r\nNats-Expected-Stream: "),
    (b"\r\n\r\n", b"\r\nantt-hash: last\r\n\r\n"),
    (b"antt-position: 12", b"antt-position: x12"),  # not a number
    (b"ce-subject: ", b"ce-subjectx: "),  # a header missing
    (b"NATS/1.0\r\n", b"NATS/1.0 404 No Messages\r\n"),  # a status line
    (b"", b""),
]), actor=texts)
def test_blocks_near_the_layout_read_as_line_by_line(edit: tuple[bytes, bytes], actor: str) -> None:
    env = envelope.new("registry", 12, "antt.registry.v1.UnitRegistered", "2026-01-10T00:00:00+00:00", "u", actor,
                       "h" * 64, "p" * 64)
    block = envelope.header_block(env, "registry:11", "ANTT_REGISTRY").replace(*edit, 1)
    assert fast(block) == reference(block)


def test_the_relays_block_takes_the_fast_path() -> None:
    """Guards the speed-up itself: a block as the relay writes it is read by the match."""
    env = envelope.new("registry", 12, "antt.registry.v1.UnitRegistered", "2026-01-10T00:00:00+00:00", "u", "a",
                       "h" * 64, "p" * 64)
    text = envelope.header_block(env, "registry:11", "ANTT_REGISTRY").decode()
    assert raw._laid_out(text) == env
    assert raw._laid_out(text.replace("ce-id: ", "ce-id: x\r\nce-id: ")) is None

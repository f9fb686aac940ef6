"""The relay's header block is byte for byte what nats-py encodes from the envelope's header dict."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from nats.aio.client import Client

from antt.contracts import envelope

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def nats_py_hpub(headers: dict[str, str]) -> bytes:
    """The HPUB command nats-py's own publish path builds from a header dict (captured before the socket)."""
    sent: list[bytes] = []
    client = Client()

    async def capture(cmd: bytes, priority: bool = False) -> None:
        sent.append(cmd)

    client._send_command = capture  # type: ignore[method-assign]
    asyncio.run(client._send_publish("antt.x", "_INBOX.r", b"payload", 7, headers))
    return sent[0]


@settings(max_examples=150, deadline=None)
@given(position=st.integers(1, 10**12), ce_type=text, time=text, subject=text, actor=text, hash=text,
       prev_hash=text, previous=text)
def test_header_block_matches_nats_py_encoding(position: int, ce_type: str, time: str, subject: str, actor: str,
                                               hash: str, prev_hash: str, previous: str) -> None:
    env = envelope.new("registry", position, ce_type, time=time, subject=subject, actor=actor, hash=hash,
                       prev_hash=prev_hash)
    headers = envelope.headers_for(env)
    if previous:
        headers[envelope.EXPECTED_LAST_MSG_ID] = previous
    headers[envelope.EXPECTED_STREAM] = "ANTT_REGISTRY"
    block = envelope.header_block(env, previous, "ANTT_REGISTRY")
    expected = nats_py_hpub(headers)
    assert expected == f"HPUB antt.x _INBOX.r {len(block)} {len(block) + 7}\r\n".encode() + block + b"payload\r\n"

"""Raw deliveries read the same headers, envelope and subject as nats-py's `Msg` path they replace."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client

from antt.contracts import envelope, subjects
from antt.contracts.envelope import EnvelopeError
from antt.messaging import raw

pytestmark = pytest.mark.unit

# What nats-py's publish accepts as a header: a token name, a value without CR/LF, both stripped.
names = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=20)
values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40).map(str.strip)


def block(headers: dict[str, str], first_line: bytes = raw.HEADER_LINE) -> bytes:
    """A header block as nats-py's `_send_publish` writes it and nats-server delivers it."""
    out = first_line + b"\r\n"
    for k, v in headers.items():
        out += k.encode() + b": " + v.encode() + b"\r\n"
    return out + b"\r\n"


@given(st.dictionaries(names, values, max_size=15))
def test_headers_parse_like_nats_py(headers: dict[str, str]) -> None:
    data = block(headers)
    assert raw.parse_headers(data) == Client._parse_header_lines(data[len(raw.HEADER_LINE) + 2:]) == headers


@given(position=st.integers(1, 2**62), actor=values, digest=st.text(string.hexdigits, max_size=64),
       ce_subject=st.uuids().map(str), time=st.sampled_from(["2026-01-10T00:00:00+00:00", "2026-11-22T23:59:59.5+07:00"]),
       extra=st.dictionaries(names.map(lambda n: f"x-{n}"), values, max_size=3))
def test_envelope_equals_the_header_dict_path(position: int, actor: str, digest: str, ce_subject: str, time: str,
                                              extra: dict[str, str]) -> None:
    env = envelope.new("assessment", position, "antt.assessment.v1.CaseDecided", time, ce_subject, actor, digest,
                       digest[::-1])
    headers = {**envelope.headers_for(env), **extra}
    assert raw.envelope_of(block(headers)) == envelope.from_headers(headers) == env


@pytest.mark.parametrize("missing", ["ce-id", "ce-type", "ce-source", "ce-time", "ce-subject", "antt-position"])
def test_a_missing_header_is_an_envelope_error_as_before(missing: str) -> None:
    env = envelope.new("registry", 7, "antt.registry.v1.UnitRegistered", "2026-01-10T00:00:00+00:00", "u")
    headers = {k: v for k, v in envelope.headers_for(env).items() if k != missing}
    with pytest.raises(EnvelopeError, match=missing):
        raw.envelope_of(block(headers))
    with pytest.raises(EnvelopeError, match=missing):
        envelope.from_headers(headers)


def test_a_bad_position_is_an_envelope_error() -> None:
    env = envelope.new("registry", 7, "antt.registry.v1.UnitRegistered", "2026-01-10T00:00:00+00:00", "u")
    headers = dict(envelope.headers_for(env), **{"antt-position": "seven"})
    with pytest.raises(EnvelopeError, match="antt-position"):
        raw.envelope_of(block(headers))


def test_status_lines_and_cached_subjects() -> None:
    assert raw.status(b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\n\r\n") == "408"
    assert raw.description(b"NATS/1.0 409 Consumer Deleted\r\n\r\n") == "Consumer Deleted"
    assert raw.status(block({"ce-id": "x"})) == "" and raw.status(None) == ""
    subject = b"antt.registry.v1.UnitRegistered.01.00004"
    assert raw.subject_of(subject) == subjects.parse(subject.decode())
    assert raw.subject_of(subject) is raw.subject_of(subject)
    with pytest.raises(subjects.SubjectError):
        raw.subject_of(b"antt.registry.v1.Unit Registered.01.00004")


def test_acks_are_the_publishes_msg_ack_sends() -> None:
    assert raw.ack_command([b"$JS.ACK.S.C.1.5.5.1.0", b"$JS.ACK.S.C.1.6.6.1.0"]) == (
        b"PUB $JS.ACK.S.C.1.5.5.1.0 0\r\n\r\nPUB $JS.ACK.S.C.1.6.6.1.0 0\r\n\r\n")

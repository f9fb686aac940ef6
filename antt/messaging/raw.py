"""Raw JetStream deliveries: the bytes nats-server sent, decoded only as far as a consumer needs.

nats-py turns every delivered message into a `Msg` with a parsed header dict before any callback sees
it (≈ 25% of a consumer's CPU at rebuild rates). A `Tap` takes the messages of chosen subscriptions
straight from nats-py's protocol parser as bytes; `decode_raw` reads our known CloudEvents headers
into an `Envelope` in one pass, and parsed subjects are cached. Everything else (status replies of
other subscriptions, every other subscription) goes through nats-py unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError

from antt.contracts import subjects, types
from antt.contracts.envelope import Envelope, EnvelopeError

HEADER_LINE = b"NATS/1.0"
_STATUS_PREFIX = HEADER_LINE + b" "
# header name -> Envelope field, for the headers the envelope reads (see contracts.envelope.headers_for)
_FIELDS = {"ce-id": "id", "ce-type": "type", "ce-source": "source", "ce-time": "time", "ce-subject": "subject",
           "antt-position": "position", "antt-actor": "actor", "antt-hash": "hash", "antt-prev-hash": "prev_hash"}
_REQUIRED = ("id", "type", "source", "time", "subject", "position")
_OPTIONAL = {"actor": "", "hash": "", "prev_hash": ""}
_SUBJECT_CACHE_LIMIT = 200_000
# The block `contracts.envelope.header_block` writes: the envelope's headers in a fixed order, read with one
# C-speed match instead of a Python loop over every line (≈ 45% fewer instructions per envelope). Any other
# block, or one the match cannot vouch for, is read line by line (`envelope_of_lines`). "." stops at "\n", so
# each "(.*)\r\n" takes a line up to its "\r\n" as the loop's split does (a stray "\n" fails the match).
_LAYOUT = re.compile(
    "NATS/1\\.0\r\nNats-Msg-Id:.*\r\nce-specversion:.*\r\nce-id:(.*)\r\nce-type:(.*)\r\nce-source:(.*)\r\n"
    "ce-time:(.*)\r\nce-subject:(.*)\r\nce-datacontenttype:.*\r\nantt-position:(.*)\r\nantt-actor:(.*)\r\n"
    "antt-hash:(.*)\r\nantt-prev-hash:(.*)\r\n")


class RawMessage:
    """One delivered message as bytes: subject, reply (the ack subject), payload and the raw header block."""

    __slots__ = ("subject", "reply", "data", "headers")

    def __init__(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        self.subject = subject
        self.reply = reply
        self.data = data
        self.headers = headers

    def to_msg(self, nc: Client) -> Msg:
        """The same message as nats-py would have delivered it (for the rare paths: nak, term, dead letter)."""
        return Msg(_client=nc, subject=self.subject.decode(), reply=self.reply.decode(), data=self.data,
                   headers=parse_headers(self.headers) if self.headers else None)


def status(headers: bytes | None) -> str:
    """The inline status of a header block ("404", "408", …), "" for an ordinary message."""
    if not headers or not headers.startswith(_STATUS_PREFIX):
        return ""
    return headers[len(_STATUS_PREFIX):len(_STATUS_PREFIX) + 3].decode("ascii", "replace")


def description(headers: bytes | None) -> str:
    """The text after an inline status ("Request Timeout"), "" if none."""
    if not headers or not headers.startswith(_STATUS_PREFIX):
        return ""
    first = headers.split(b"\r\n", 1)[0]
    return first[len(_STATUS_PREFIX) + 3:].strip().decode("utf-8", "replace")


def parse_headers(headers: bytes) -> dict[str, str]:
    """Every "Name: value" header of a block (the first line, "NATS/1.0 …", is not a header)."""
    out: dict[str, str] = {}
    # One decode and one split for the block (nats-py decodes and strips line by line).
    for line in headers.decode("utf-8", "replace").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name = name.strip()
            if name:
                out[name] = value.strip()
    return out


def envelope_of(headers: bytes | Mapping[str, str] | None) -> Envelope:
    """The envelope of a message from its raw header block (or a parsed header dict)."""
    if isinstance(headers, (bytes, bytearray)):
        text = headers.decode("utf-8", "replace")
        return _laid_out(text) or envelope_of_lines(text)
    fields: dict[str, Any] = dict(_OPTIONAL)
    field_of = _FIELDS.get
    for name, value in (headers or {}).items():
        field = field_of(name)
        if field is not None:
            fields[field] = value
    return _envelope(fields)


def envelope_of_lines(text: str) -> Envelope:
    """The envelope of a decoded header block in any layout, line by line (the reference of the fast path)."""
    fields: dict[str, Any] = dict(_OPTIONAL)
    field_of = _FIELDS.get
    # Straight from the block into the envelope's fields: no dict of every header on the way.
    for line in text.split("\r\n"):
        name, sep, value = line.partition(":")
        field = field_of(name)
        if field is not None and sep:
            fields[field] = value.strip()
    return _envelope(fields)


def _envelope(fields: dict[str, Any]) -> Envelope:
    for field in _REQUIRED:
        if field not in fields:
            name = next(k for k, v in _FIELDS.items() if v == field)
            raise EnvelopeError(f"missing header {name}")
    try:
        fields["position"] = int(fields["position"])
    except ValueError:
        raise EnvelopeError(f"bad antt-position header {fields['position']!r}") from None
    # Envelope is a frozen dataclass without slots: filling its __dict__ gives the object its __init__
    # would, without the per-field frozen setattr (a third of the decode at rebuild rates).
    env = object.__new__(Envelope)
    env.__dict__.update(fields)
    return env


def _laid_out(text: str) -> Envelope | None:
    """The envelope of a header block in `header_block`'s layout (what the line loop reads), else None."""
    found = _LAYOUT.match(text)
    if found is None:
        return None
    rest = text[found.end():]
    # A later line naming an envelope header again would win in the line loop: leave such a block to it.
    if "\nce-" in rest or "\nantt-" in rest or rest.startswith(("ce-", "antt-")):
        return None
    id_, type_, source, time, subject, position, actor, hash_, prev_hash = found.groups()
    try:
        number = int(position)
    except ValueError:
        return None
    env = object.__new__(Envelope)  # as in _envelope: the fields straight into __dict__
    env.__dict__.update(id=id_.strip(), type=type_.strip(), source=source.strip(), time=time.strip(),
                        subject=subject.strip(), position=number, actor=actor.strip(), hash=hash_.strip(),
                        prev_hash=prev_hash.strip())
    return env


_subjects: dict[bytes, subjects.Subject] = {}


def subject_of(subject: bytes) -> subjects.Subject:
    """The parsed subject, cached: a stream has few distinct subjects (event type × commune)."""
    found = _subjects.get(subject)
    if found is None:
        found = subjects.parse(subject.decode())
        if len(_subjects) >= _SUBJECT_CACHE_LIMIT:
            _subjects.clear()
        _subjects[subject] = found
    return found


def payload_of(ce_type: str, data: bytes) -> Message:
    """The protobuf payload of a ce-type (raises UnknownEventTypeError, DecodeError)."""
    return types.decode(ce_type, data)


RawHandler = Callable[[RawMessage], None]


class Tap:
    """Takes the messages of registered subscriptions from a nats-py client before it builds `Msg` objects.

    nats-py's protocol parser calls `client._process_msg(sid, subject, reply, data, headers)` per message;
    the tap stands in for that method on one client instance, hands a registered subscription's messages
    (as `RawMessage`) to its handler and passes every other message on unchanged.
    """

    ATTRIBUTE = "_antt_tap"

    def __init__(self, nc: Client) -> None:
        self._original: Callable[..., Awaitable[None]] = nc._process_msg
        self._handlers: dict[int, RawHandler] = {}
        self._stats = nc.stats

    @classmethod
    def of(cls, nc: Client) -> Tap | None:
        """The client's tap, installed on first use; None if this nats-py does not have the hook."""
        tap = getattr(nc, cls.ATTRIBUTE, None)
        if tap is None:
            if not callable(getattr(nc, "_process_msg", None)):
                return None
            tap = cls(nc)
            setattr(nc, cls.ATTRIBUTE, tap)
            nc._process_msg = tap._process_msg  # type: ignore[method-assign]
        return tap

    def add(self, sid: int, handler: RawHandler) -> None:
        """Deliver subscription `sid`'s messages to `handler` as raw messages."""
        self._handlers[sid] = handler

    def remove(self, sid: int) -> None:
        """Stop taking subscription `sid`'s messages."""
        self._handlers.pop(sid, None)

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes,
                           headers: bytes | None) -> None:
        handler = self._handlers.get(sid)
        if handler is None:
            await self._original(sid, subject, reply, data, headers)
            return
        self._stats["in_msgs"] += 1
        self._stats["in_bytes"] += len(data)
        handler(RawMessage(subject, reply, data, headers))


def stream_sequence(reply: bytes) -> tuple[int, int]:
    """(stream sequence, messages still pending) from a delivery's reply subject ($JS.ACK.…)."""
    tokens = reply.split(b".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        return int(tokens[5]), int(tokens[8])
    if len(tokens) >= 11 and tokens[0] == b"$JS" and tokens[1] == b"ACK":  # with domain and account hash
        return int(tokens[Msg.Ack.StreamSeq]), int(tokens[Msg.Ack.NumPending])
    raise ValueError(f"not a JetStream delivery: {reply[:200]!r}")


def ack_command(replies: Iterable[bytes]) -> bytes:
    """One protocol write acknowledging each of these deliveries (`PUB <reply> 0`, nats-py's `Msg.ack`)."""
    return b"".join([b"PUB " + r + b" 0\r\n\r\n" for r in replies])


async def ack(nc: Client, replies: list[bytes]) -> None:
    """Acknowledge deliveries by their reply subjects in one write: what `Msg.ack` each would send."""
    if not replies:
        return
    if nc.is_closed:
        raise ConnectionClosedError
    # nats-py's own publish path, once for the whole batch: queue the command, then wake its flusher.
    await nc._send_command(ack_command(replies))
    if nc._flush_queue is not None and nc._flush_queue.empty():
        await nc._flush_pending()

"""HTTP webhooks signed with HMAC-SHA256 over the body; the last body byte is the commit point."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
from urllib.parse import urlsplit

from services.notifications.channels import ChannelError, HandOver, OutgoingMessage

SIGNATURE_HEADER = "X-Antt-Signature"
KEY_HEADER = "X-Antt-Reminder-Key"


def sign(secret: str, body: bytes) -> str:
    """The signature header value: "sha256=<hex HMAC-SHA256 of the body>"."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """True when `header` is the signature of `body` (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, body), header or "")


class WebhookChannel:
    """POSTs a JSON notice to the unit's webhook URL."""

    name = "webhook"

    def __init__(self, secret: str, timeout: float = 10.0) -> None:
        self.secret = secret
        self.timeout = timeout

    def body(self, message: OutgoingMessage) -> bytes:
        """The JSON document sent (UTF-8, Vietnamese kept as is)."""
        doc = {"reminder_key": message.key, "subject": message.subject, "text": message.body, **message.facts}
        return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def send(self, message: OutgoingMessage, hand_over: HandOver) -> str:
        """POST with signature and idempotency key; 2xx is accepted, anything else is a failed attempt."""
        url = urlsplit(message.address)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ChannelError(f"not an http(s) URL: {message.address!r}")
        body = self.body(message)
        cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = cls(url.hostname, url.port, timeout=self.timeout)
        try:
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the last byte goes out at once
            conn.putrequest("POST", (url.path or "/") + (f"?{url.query}" if url.query else ""))
            for name, value in (("Content-Type", "application/json; charset=utf-8"),
                                ("Content-Length", str(len(body))), (SIGNATURE_HEADER, sign(self.secret, body)),
                                (KEY_HEADER, message.key), ("Idempotency-Key", message.key)):
                conn.putheader(name, value)
            conn.endheaders()
            conn.send(body[:-1])
            hand_over()  # may raise HandOverRefused: the receiver never gets the whole body
            conn.send(body[-1:])
            response = conn.getresponse()
            response.read()
            if not 200 <= response.status < 300:
                raise ChannelError(f"HTTP {response.status} {response.reason}")
            return f"HTTP {response.status}"
        except (http.client.HTTPException, OSError) as exc:
            raise ChannelError(f"webhook error: {exc}") from exc
        finally:
            conn.close()

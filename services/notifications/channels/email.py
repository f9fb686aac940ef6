"""Email over SMTP (stdlib smtplib, blocking: call it in a thread), with the end-of-data line as commit point."""

from __future__ import annotations

import email.policy
import smtplib
import socket
import uuid
from email.message import EmailMessage
from email.utils import formatdate

from services.notifications.channels import ChannelError, HandOver, HandOverRefused, OutgoingMessage

KEY_HEADER = "X-Antt-Reminder-Key"
# CRLF line ends, and no folding of headers under 998 characters: the reminder key stays one token.
_POLICY = email.policy.SMTP.clone(max_line_length=998)
_NAMESPACE = uuid.UUID("8f3c2a51-0b6e-5d47-9a1f-6c2e7d4b2026")


def message_id(key: str, domain: str = "antt.local") -> str:
    """A stable Message-ID per reminder key, so mail clients can recognise a repeat."""
    return f"<{uuid.uuid5(_NAMESPACE, key)}@{domain}>"


def _dot_stuffed(data: bytes) -> bytes:
    """SMTP DATA payload without its terminator: CRLF line ends, leading dots doubled (RFC 5321 4.5.2)."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)


class EmailChannel:
    """Sends one email per delivery to an SMTP server."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 10.0,
                 local_hostname: str = "antt-notifications") -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        self.local_hostname = local_hostname  # not socket.getfqdn(): a reverse lookup per message is slow

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message, with the reminder key in a header and a stable Message-ID."""
        mail = EmailMessage(policy=_POLICY)
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = message_id(message.key)
        mail[KEY_HEADER] = message.key
        mail.set_content(message.body, charset="utf-8", cte="quoted-printable")  # 7-bit safe
        return mail

    def send(self, message: OutgoingMessage, hand_over: HandOver) -> str:
        """MAIL, RCPT, DATA; hand over; then the end-of-data line that commits the message at the server."""
        data = _dot_stuffed(self.build(message).as_bytes())
        try:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
        except OSError as exc:
            raise ChannelError(f"SMTP {self.host}:{self.port} unreachable: {exc}") from exc
        committed = False
        try:
            # Small writes (end of data after the body) must not wait for delayed ACKs (Nagle).
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            code, reply = smtp.mail(self.sender)
            if code != 250:
                raise ChannelError(f"MAIL FROM refused: {code} {reply!r}")
            code, reply = smtp.rcpt(message.address)
            if code not in (250, 251):
                raise ChannelError(f"RCPT TO refused: {code} {reply!r}")
            code, reply = smtp.docmd("DATA")
            if code != 354:
                raise ChannelError(f"DATA refused: {code} {reply!r}")
            smtp.send(data)
            hand_over()  # may raise HandOverRefused: the server then never sees the end of data
            smtp.send(b".\r\n")
            committed = True
            code, reply = smtp.getreply()
            if code != 250:
                raise ChannelError(f"message refused: {code} {reply!r}")
            return f"{code} {reply.decode(errors='replace')}"
        except HandOverRefused:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"SMTP error: {exc}") from exc
        finally:
            if committed:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()
            else:
                smtp.close()  # drop the connection mid-DATA: the server discards the message

"""Server-side sessions: a random id in an HttpOnly cookie; the bearer token never leaves the server."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "antt_console_session"
IDLE_SECONDS = 8 * 3600


@dataclass
class Session:
    """One browser's session: its CSRF token and, once signed in, the bearer token and its claims."""

    id: str
    csrf: str
    token: str = ""
    user: dict[str, str] = field(default_factory=dict)  # subject, role, tier, jurisdiction (display only)
    scope: str = ""
    flash: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    seen: float = field(default_factory=time.monotonic)

    @property
    def signed_in(self) -> bool:
        """True once a token is held."""
        return bool(self.token)


class SessionStore:
    """Sessions in memory, dropped after IDLE_SECONDS without a request (a restart signs everyone out)."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def new(self) -> Session:
        """A fresh anonymous session."""
        self._expire()
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32))
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None."""
        session = self._sessions.get(session_id or "")
        if session is None or time.monotonic() - session.seen > IDLE_SECONDS:
            return None
        session.seen = time.monotonic()
        return session

    def rotate(self, old: Session, **values: Any) -> Session:
        """A new id and CSRF token for a session changing privilege (sign-in), against session fixation."""
        self._sessions.pop(old.id, None)
        fresh = self.new()
        for key, value in values.items():
            setattr(fresh, key, value)
        return fresh

    def drop(self, session: Session) -> None:
        """Forget a session (sign-out)."""
        self._sessions.pop(session.id, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self._sessions.values() if now - s.seen > IDLE_SECONDS]:
            self._sessions.pop(sid, None)

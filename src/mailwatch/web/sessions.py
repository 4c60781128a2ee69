"""Logged-in sessions, kept in the daemon's memory: a restart logs everyone out.

A session id is 32 random bytes (URL-safe base64) in a cookie; the server keeps the user, a
CSRF token and the session's times. Ids are never logged: a log line names the user.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SESSIONS = 10_000
"""More live sessions than this: the least recently used goes (memory stays bounded)."""


@dataclass(slots=True)
class Session:
    """One logged-in browser."""

    id: str = field(repr=False)
    user: str
    csrf: str = field(repr=False)
    """The token every form of this session carries (checked on every POST)."""
    created_at: float
    last_seen: float


class SessionStore:
    """Sessions by id, each expiring ``idle_s`` after its last use or ``max_s`` after login."""

    def __init__(
        self,
        idle_s: Callable[[], float],
        max_s: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Callables: a SIGHUP reload may change the limits while sessions live on.
        self._idle_s = idle_s
        self._max_s = max_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, user: str) -> Session:
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.id]
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None, users: Callable[[str], bool]) -> Session | None:
        """The live session with that id whose user is still configured (``users``), touched;
        None (and forgotten) when it is unknown, expired or its user was removed."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        expired = (
            now - session.last_seen > self._idle_s() or now - session.created_at > self._max_s()
        )
        if expired or not users(session.user):
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

"""Browsers a user has logged in from, so that someone failing logins under that user's name
elsewhere cannot lock the user out.

A limit per user name alone lets anybody who knows a name (``oncall``) lock that person out
for ``login_window_s`` with a handful of wrong passwords, during the incident they were paged
for. After a successful login the browser gets a random device token (a cookie, kept in
memory like the sessions); a later login for the same user that presents it is counted under
that token instead of under the user's name, so the name's lockout does not reach it, and a
stolen token still gets only ``login_attempts`` guesses. (OWASP's "device cookies".)
"""

from __future__ import annotations

import secrets

DEVICE_COOKIE = "mailwatch_device"

MAX_DEVICES = 10_000
"""Tokens kept at most; the oldest is forgotten first (its browser is then a stranger until
its next successful login)."""


class KnownDevices:
    """Device token -> the user (case-folded) who logged in with it."""

    def __init__(self) -> None:
        self._users: dict[str, str] = {}

    def knows(self, token: str | None, user: str) -> bool:
        """Whether ``token`` is a browser ``user`` logged in from."""
        return token is not None and self._users.get(token) == user.casefold()

    def remember(self, token: str | None, user: str) -> str:
        """After ``user`` logged in: the browser's token (its own if it already had one for
        ``user``, else a new one)."""
        if token is not None and self.knows(token, user):
            return token
        while len(self._users) >= MAX_DEVICES:
            del self._users[next(iter(self._users))]
        token = secrets.token_urlsafe(24)
        self._users[token] = user.casefold()
        return token

"""The application's typed state keys (aiohttp ``AppKey``, ``RequestKey``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mailwatch.web.devices import KnownDevices
from mailwatch.web.host import WebHost
from mailwatch.web.ratelimit import FailureLimiter
from mailwatch.web.sessions import Session, SessionStore

HOST = web.AppKey("host", WebHost)
"""The daemon serving the application."""
SESSIONS = web.AppKey("sessions", SessionStore)
LOGIN_FAILURES = web.AppKey("login_failures", FailureLimiter)
KNOWN_DEVICES = web.AppKey("known_devices", KnownDevices)
"""Browsers users logged in from (``devices.py``): their failures count apart."""
TOKEN_FAILURES = web.AppKey("token_failures", FailureLimiter)
"""Wrong API bearer tokens, per client address (``api.py``)."""
LIVE_CLOSING = web.AppKey("live_closing", asyncio.Event)
"""Set at shutdown: every live stream (``/live``) ends."""
SESSION = web.RequestKey("session", Session)
"""The request's logged-in ``Session``, absent without one (set by ``access.access_control``)."""


def session_of(request: web.Request) -> Session | None:
    """The request's logged-in session, if any."""
    return request.get(SESSION)

"""Who may reach which handler: a marker on each handler, checked by one middleware.

Handlers are login-only unless marked: ``public`` (``/healthz``, the login page, ack links,
the stylesheet), ``public_status`` (the read-only overview, open with ``[web] public_status``)
or ``bearer`` (the JSON API, whose handlers check the token themselves). A POST of a
logged-in session must carry the session's CSRF token in its ``csrf`` form field.
"""

from __future__ import annotations

import enum
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import quote

from aiohttp import web

from mailwatch.web.keys import HOST, SESSION, SESSIONS

log = logging.getLogger("mailwatch.web")

SESSION_COOKIE = "mailwatch_session"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

_ACCESS_ATTR = "mailwatch_access"


class Access(enum.Enum):
    SESSION = "session"
    PUBLIC = "public"
    PUBLIC_STATUS = "public_status"
    BEARER = "bearer"


def _mark(access: Access) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        setattr(handler, _ACCESS_ATTR, access)
        return handler

    return mark


public = _mark(Access.PUBLIC)
"""No login needed."""
public_status = _mark(Access.PUBLIC_STATUS)
"""No login needed when ``[web] public_status = true`` (GET only)."""
bearer = _mark(Access.BEARER)
"""The JSON API: the handler checks the bearer token itself."""


def access_of(request: web.Request) -> Access:
    access = getattr(request.match_info.handler, _ACCESS_ATTR, Access.SESSION)
    return access if isinstance(access, Access) else Access.SESSION


def login_url(request: web.Request) -> str:
    return f"/login?next={quote(request.path_qs, safe='')}"


def forbidden_page(text: str, status: int = 403) -> web.Response:
    from mailwatch.web.html import esc, page

    body = f'<h1>Refused</h1><p class="error">{esc(text)}</p><p><a href="/">Overview</a></p>'
    return web.Response(text=page("Refused", body), status=status, content_type="text/html")


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    host = request.app[HOST]
    users = host.config.web.users
    session = request.app[SESSIONS].get(request.cookies.get(SESSION_COOKIE), users.__contains__)
    if session is not None:
        request[SESSION] = session
    access = access_of(request)
    reading = request.method in ("GET", "HEAD")
    if access in (Access.PUBLIC, Access.BEARER):
        return await handler(request)
    if access is Access.PUBLIC_STATUS and reading and host.config.web.public_status:
        return await handler(request)
    if session is None:
        if reading:
            raise web.HTTPSeeOther(login_url(request))
        return forbidden_page("Log in first: your session has ended.")
    if not reading:
        form = await request.post()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
            log.warning(
                "web: %s %s by %s refused: no valid CSRF token",
                request.method,
                request.path,
                session.user,
            )
            return forbidden_page(
                "This form has no valid CSRF token (it is older than your session, or was "
                "sent from another site). Reload the page and try again."
            )
    return await handler(request)

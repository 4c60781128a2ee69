"""Logging in and out: ``/login`` (a form, argon2 check, failures limited per user and per
client address) and ``/logout``."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from mailwatch.web.access import SESSION_COOKIE, public
from mailwatch.web.clients import client_address
from mailwatch.web.devices import DEVICE_COOKIE
from mailwatch.web.forms import form_nonce, nonce_matches, set_nonce_cookie
from mailwatch.web.html import esc, page
from mailwatch.web.keys import HOST, KNOWN_DEVICES, LOGIN_FAILURES, SESSIONS, session_of
from mailwatch.web.passwords import verify_password

log = logging.getLogger("mailwatch.web")

MAX_FIELD_CHARS = 1024

DEVICE_COOKIE_MAX_AGE_S = 400 * 86400
"""Browsers keep a cookie at most 400 days; the token lives in the daemon's memory anyway."""


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no ``//host`` or ``http:``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: web.Request, *, error: str | None = None, status: int = 200, user: str = ""
) -> web.Response:
    nonce = form_nonce(request)
    target = safe_next(request.query.get("next"))
    problem = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    body = f"""<h1>Log in</h1>
{problem}
<form class="card action" method="post" action="/login?next={esc(target)}">
<input type="hidden" name="nonce" value="{esc(nonce)}">
<label for="user">User</label>
<input type="text" id="user" name="user" value="{esc(user)}" autocomplete="username"
 autocapitalize="none" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button>Log in</button>
</form>"""
    response = web.Response(text=page("Log in", body), status=status, content_type="text/html")
    set_nonce_cookie(request, response, nonce)
    return response


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    if session_of(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return _login_page(request)


@public
async def login(request: web.Request) -> web.StreamResponse:
    host = request.app[HOST]
    config = host.config.web
    if not await nonce_matches(request):
        return _login_page(request, error="The form expired. Please log in again.", status=403)
    form = await request.post()
    user = str(form.get("user", ""))[:MAX_FIELD_CHARS].strip()
    password = str(form.get("password", ""))[:MAX_FIELD_CHARS]
    address = client_address(request, config.trusted_proxies)
    devices = request.app[KNOWN_DEVICES]
    device = request.cookies.get(DEVICE_COOKIE)
    # A browser this user logged in from counts its failures apart from the user name's, so
    # failures elsewhere under the name do not lock the user out (devices.py).
    known = devices.knows(device, user)
    keys = (f"device:{device}" if known else f"user:{user.casefold()}", f"address:{address}")
    limiter = request.app[LOGIN_FAILURES]
    wait_s = limiter.retry_after_s(keys)
    if wait_s is not None:
        retry = max(1, math.ceil(wait_s))
        log.warning(
            "web: login refused, too many failures (user %s, from %s)",
            user if user in config.users else "unknown",
            address,
        )
        response = _login_page(
            request,
            error=f"Too many failed logins. Try again in {retry} s.",
            status=429,
            user=user,
        )
        response.headers["Retry-After"] = str(retry)
        return response
    configured = config.users.get(user)
    stored_hash = configured.password_hash.get_secret_value() if configured else None
    if not password or not await verify_password(stored_hash, password):
        limiter.failed(keys)
        log.warning(
            "web: failed login (user %s, from %s)", user if configured else "unknown", address
        )
        return _login_page(request, error="Wrong user or password.", status=401, user=user)
    limiter.forget(keys[0])
    session = request.app[SESSIONS].create(user)
    log.info("web: %s logged in from %s", user, address)
    response = web.HTTPSeeOther(safe_next(request.query.get("next")))
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        httponly=True,
        secure=config.cookie_secure,
        samesite="Lax",
        path="/",
    )
    response.set_cookie(
        DEVICE_COOKIE,
        devices.remember(device, user),
        max_age=DEVICE_COOKIE_MAX_AGE_S,
        httponly=True,
        secure=config.cookie_secure,
        samesite="Strict",
        path="/login",
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    if session is not None:
        request.app[SESSIONS].drop(session.id)
        log.info("web: %s logged out", session.user)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def login_routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_form),
        web.post("/login", login),
        web.post("/logout", logout),
    ]

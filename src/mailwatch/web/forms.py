"""Forms shown to visitors without a session (login, ack links) carry a nonce also set as a
cookie (double submit): a form posted from another site has no matching cookie."""

from __future__ import annotations

import hmac
import re
import secrets

from aiohttp import web

from mailwatch.web.keys import HOST

FORM_COOKIE = "mailwatch_form"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32}$")
"""What ``secrets.token_urlsafe(24)`` makes."""


def form_nonce(request: web.Request) -> str:
    """The nonce for a form shown to ``request``: the visitor's nonce cookie when it holds one,
    else a new one. Keeping it means a second page that sets the cookie does not void a form
    already shown: a browser fetches ``/favicon.ico`` right after the login page, is sent to
    the login page too, and a new nonce there would make the visible form "expired"."""
    kept = request.cookies.get(FORM_COOKIE, "")
    return kept if _NONCE.fullmatch(kept) else secrets.token_urlsafe(24)


def set_nonce_cookie(request: web.Request, response: web.StreamResponse, nonce: str) -> None:
    response.set_cookie(
        FORM_COOKIE,
        nonce,
        httponly=True,
        secure=request.app[HOST].config.web.cookie_secure,
        samesite="Strict",
        path="/",
    )


async def nonce_matches(request: web.Request) -> bool:
    """Does the form's ``nonce`` field equal the nonce cookie?"""
    form = await request.post()
    sent = form.get("nonce")
    kept = request.cookies.get(FORM_COOKIE)
    return isinstance(sent, str) and bool(kept) and hmac.compare_digest(sent, kept or "")

"""Forms shown to visitors without a session (login, ack links) carry a nonce also set as a
cookie (double submit): a form posted from another site has no matching cookie."""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from mailwatch.web.keys import HOST

FORM_COOKIE = "mailwatch_form"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


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

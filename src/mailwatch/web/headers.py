"""The security headers every answer carries, redirects and error pages included.

They are set as the answer is prepared (aiohttp's ``on_response_prepare`` signal) rather than
by a middleware: a redirect or error a handler or middleware *raises* (``HTTPSeeOther`` to the
login page, ``HTTPNotFound``) never passes back through the middlewares above it, and a
404 of no route passes through none at all.
"""

from __future__ import annotations

from aiohttp import web

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # An ack link's token is in its path: it must never leave in a Referer.
    "Referrer-Policy": "no-referrer",
    # Pages show tickets; an answer that may be cached says so itself (the stylesheet).
    "Cache-Control": "no-store",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: add each header the answer does not set itself."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)

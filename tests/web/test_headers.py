"""The security headers docs/web.md promises on every answer reach the answers people meet
first: the redirect of an anonymous visitor to the login page, a page that is not there, a
refused login, an API refusal. The server is the real ``WebServer`` over a real SQLite store;
the daemon's part is ``helpers.web.PagesHost``."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from helpers.web import PagesHost, browser, log_in, serving, web_config
from mailwatch.store.store import Store

PROMISED = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def missing(answer: aiohttp.ClientResponse) -> dict[str, str | None]:
    """The promised headers ``answer`` lacks or carries with another value."""
    return {
        name: answer.headers.get(name)
        for name, value in PROMISED.items()
        if answer.headers.get(name) != value
    }


async def test_redirects_and_error_answers_carry_the_security_headers(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    host = PagesHost(web_config(tmp_path, login_attempts=1), store)
    try:
        async with serving(host) as base, browser() as client:
            async with client.get(f"{base}/", allow_redirects=False) as anonymous:
                assert anonymous.status == 303
                assert anonymous.headers["Location"].startswith("/login")
                assert missing(anonymous) == {}
            async with client.get(f"{base}/api/v1/status") as no_token:
                assert no_token.status == 401
                assert missing(no_token) == {}
            assert (await log_in(client, base, password="guess")).status == 401
            refused = await log_in(client, base)
            assert refused.status == 429
            assert missing(refused) == {}
        async with serving(host) as base, browser() as client:
            assert (await log_in(client, base)).status == 303
            for path in ("/no/such/page", "/tickets/MW-999999", "/static/nothing.css"):
                async with client.get(f"{base}{path}") as absent:
                    assert absent.status == 404, path
                    assert missing(absent) == {}, path
            async with client.get(f"{base}/static/mailwatch.css") as stylesheet:
                # The one answer that says otherwise keeps its own caching.
                assert stylesheet.headers["Cache-Control"] == "public, max-age=3600"
                assert stylesheet.headers["X-Frame-Options"] == "DENY"
    finally:
        await store.close()

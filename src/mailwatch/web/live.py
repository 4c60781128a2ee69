"""``/live``: the pages' live updates, as server-sent events.

The stream says one thing: the status model's version (``status.changes``), once when it
opens and again each time it moves. A page holding it (``static/live.js``) fetches itself
again only when the number differs from the one it was rendered with; while nothing
changes, nothing but a comment every ``KEEPALIVE_S`` crosses the wire, and the daemon's only
work for the watchers is one cheap look at the store a second (``store.changes``), for
changes other processes made. Why not polling: a poll every second to meet the 2 s bound would
render the overview (1,000 checks) a second per browser even when nothing moved; an event
costs nothing until something does, and arrives at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from mailwatch.status.changes import StatusVersion
from mailwatch.web.access import public_status
from mailwatch.web.keys import HOST, LIVE_CLOSING

KEEPALIVE_S = 25.0
"""A comment line this often keeps proxies (nginx's proxy_read_timeout is 60 s) from
closing an idle stream."""
STREAM_S = 600.0
"""A stream ends after this long, and the browser opens another (``retry``): the session
is checked again then, so a logged-out or removed user stops hearing within this time."""
RETRY_MS = 2000
"""How soon a browser reconnects after a stream ends or the daemon restarts."""
MAX_STREAMS = 200
"""Streams open at once, all browsers together: a team watching needs tens; past this, a
stream is refused (503) rather than letting clients (anyone, with ``public_status``) hold
the daemon's sockets. A page whose stream was refused still refreshes its clocks every 30 s."""


def version_event(number: int) -> bytes:
    return f"event: version\ndata: {number}\n\n".encode()


@public_status
async def live(request: web.Request) -> web.StreamResponse:
    version = request.app[HOST].status_version
    closing = request.app[LIVE_CLOSING]
    if version.watchers >= MAX_STREAMS:
        raise web.HTTPServiceUnavailable(
            text=f"too many live streams open ({MAX_STREAMS}); the page refreshes itself\n",
            headers={"Retry-After": "60"},
        )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            # nginx buffers proxied answers by default: an event would wait in its buffer.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    seen = version.number
    await response.write(f"retry: {RETRY_MS}\n".encode() + version_event(seen))
    closed = asyncio.ensure_future(closing.wait())
    try:
        with version.watching():
            await _follow(response, version, closing, closed, seen)
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        closed.cancel()
    return response


async def _follow(
    response: web.StreamResponse,
    version: StatusVersion,
    closing: asyncio.Event,
    closed: asyncio.Future[Any],
    seen: int,
) -> None:
    """Say each new version until the stream's time is up or the server stops."""
    ends_at = time.monotonic() + STREAM_S
    while not closing.is_set() and (left := ends_at - time.monotonic()) > 0:
        moved = asyncio.ensure_future(version.wait_past(seen, min(KEEPALIVE_S, left)))
        await asyncio.wait((moved, closed), return_when=asyncio.FIRST_COMPLETED)
        if not moved.done():
            moved.cancel()
            break
        number = moved.result()
        if number != seen:
            seen = number
            await response.write(version_event(seen))
        elif not closing.is_set():
            await response.write(b": keepalive\n\n")


async def close_streams(app: web.Application) -> None:
    """At shutdown: end every stream now rather than after the server's grace period."""
    app[LIVE_CLOSING].set()


def live_routes() -> list[web.RouteDef]:
    return [web.get("/live", live)]

"""Pages asked for while the database is away: 503 and one short page, not a traceback per
request (the daemon's store logs the outage once: docs/cluster.md, "While the database is
away"). The API has its own JSON answer (``api_errors``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from mailwatch.domain.errors import StoreUnavailableError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def database_away(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except StoreUnavailableError:
        return web.Response(
            status=503,
            text="mailwatch cannot reach its database just now; see the daemon's log.\n",
            headers={"Retry-After": "10"},
        )

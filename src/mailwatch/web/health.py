"""``/healthz``: is the daemon's heartbeat fresh? Answered without login, for load balancers
and uptime monitors."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from mailwatch.web.keys import HOST


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok", "heartbeat_age_s": 1.2}`` while the heartbeat is younger than
    ``[daemon] stale_after_s``; 503 with ``"status": "stale"`` after (the loop is stuck)."""
    host = request.app[HOST]
    beat = host.last_heartbeat
    limit = host.config.daemon.stale_after_s
    if beat is None:
        return web.json_response({"status": "starting", "heartbeat_age_s": None}, status=503)
    age_s = max(0.0, (datetime.now(UTC) - beat).total_seconds())
    fresh = age_s <= limit
    return web.json_response(
        {"status": "ok" if fresh else "stale", "heartbeat_age_s": round(age_s, 1)},
        status=200 if fresh else 503,
        headers={"Cache-Control": "no-store"},
    )

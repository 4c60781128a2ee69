"""The application factory: routes, middlewares and the state every handler reads."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mailwatch.web.access import access_control, public
from mailwatch.web.ack_links import ack_link_routes
from mailwatch.web.api import PREFIX as API_PREFIX
from mailwatch.web.api import api_app
from mailwatch.web.assets import asset_routes
from mailwatch.web.check_page import check_routes
from mailwatch.web.devices import KnownDevices
from mailwatch.web.failures import page_failures
from mailwatch.web.graphs import graph_routes
from mailwatch.web.headers import add_security_headers
from mailwatch.web.health import healthz
from mailwatch.web.host import WebHost
from mailwatch.web.keys import (
    HOST,
    KNOWN_DEVICES,
    LIVE_CLOSING,
    LOGIN_FAILURES,
    SESSIONS,
    TOKEN_FAILURES,
)
from mailwatch.web.live import close_streams, live_routes
from mailwatch.web.login import login_routes
from mailwatch.web.overview import overview
from mailwatch.web.ratelimit import FailureLimiter
from mailwatch.web.report_page import report_routes
from mailwatch.web.sessions import SessionStore
from mailwatch.web.ticket_actions import ticket_routes
from mailwatch.web.unavailable import database_away

MAX_BODY_BYTES = 64 * 1024
"""Forms carry a note at most; a larger body is refused (413) before it is read."""


def build_app(host: WebHost) -> web.Application:
    """The web application serving ``host``."""
    app = web.Application(
        middlewares=[database_away, page_failures, access_control],
        client_max_size=MAX_BODY_BYTES,
    )
    app.on_response_prepare.append(add_security_headers)
    app[HOST] = host
    app[SESSIONS] = SessionStore(
        idle_s=lambda: host.config.web.session_idle_s,
        max_s=lambda: host.config.web.session_max_s,
    )
    app[LOGIN_FAILURES] = FailureLimiter(
        attempts=lambda: host.config.web.login_attempts,
        window_s=lambda: host.config.web.login_window_s,
    )
    app[KNOWN_DEVICES] = KnownDevices()
    # Wrong API tokens are counted apart from failed logins, under the same limit.
    app[TOKEN_FAILURES] = FailureLimiter(
        attempts=lambda: host.config.web.login_attempts,
        window_s=lambda: host.config.web.login_window_s,
    )
    app.router.add_get("/healthz", public(healthz))
    app.router.add_get("/", overview)
    app.router.add_routes(login_routes())
    app.router.add_routes(ticket_routes())
    app.router.add_routes(check_routes())
    app.router.add_routes(graph_routes())
    app[LIVE_CLOSING] = asyncio.Event()
    app.router.add_routes(live_routes())
    app.on_shutdown.append(close_streams)
    app.router.add_routes(asset_routes())
    app.router.add_routes(ack_link_routes())
    app.router.add_routes(report_routes())
    app.add_subapp(API_PREFIX, api_app())
    return app

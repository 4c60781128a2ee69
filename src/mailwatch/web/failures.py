"""What the log says when a request fails: one line, never a traceback at the default level,
never what the client sent.

Two places fail a request. aiohttp itself, before any handler, when the bytes are not HTTP it
accepts (a request line or header over 8 KiB, a malformed header, TLS spoken to a plain
port): it answers 400 and logged "Error handling request" with a traceback that quotes the
offending bytes, which may hold a bearer token. ``SERVER_LOG`` is the logger aiohttp is given
instead; ``ClientErrorFilter`` turns those records into "web: bad request from ADDRESS:
LineTooLong (400)". And a page handler that raises what nobody foresaw (a bug): the
``page_failures`` middleware logs one error line naming the request and the exception, the
traceback at debug level (``mailwatch run -v``), and answers 500 with a short page. (The API
answers in JSON: ``api_errors``.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mailwatch.domain.errors import StoreError, StoreUnavailableError

log = logging.getLogger("mailwatch.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ClientErrorFilter(logging.Filter):
    """A request aiohttp could not parse is the client's problem: one info line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "web: bad request from %s: %s (%s)"
            record.args = (peer, type(error).__name__, error.code)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


SERVER_LOG = logging.getLogger("mailwatch.web.server")
SERVER_LOG.addFilter(ClientErrorFilter())


def request_line(request: web.Request) -> str:
    """``GET /path`` as it came, percent-encoded (a decoded path could hold a newline), without
    the query (which may hold a token)."""
    return f"{request.method} {request.rel_url.raw_path}"


@web.middleware
async def page_failures(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (web.HTTPException, StoreUnavailableError):
        raise  # answers, and the database being away (``database_away``)
    except StoreError as exc:
        log.error("web: %s: the database cannot be used: %s", request_line(request), exc)
        return web.Response(
            status=503, text="mailwatch cannot use its database just now; see the daemon's log.\n"
        )
    except Exception as exc:
        log.error("web: %s failed: %s: %s", request_line(request), type(exc).__name__, exc)
        log.debug("web: %s failed", request_line(request), exc_info=exc)
        return web.Response(
            status=500, text="mailwatch failed to answer this request; see the daemon's log.\n"
        )

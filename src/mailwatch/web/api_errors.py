"""How the JSON API fails: one ``{"error": "..."}`` object with the right status, never a
traceback, whatever went wrong (a refused token, a bad body, an unknown path, a database that
cannot be used, a bug)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from mailwatch.domain.errors import StoreError
from mailwatch.web.failures import request_line

log = logging.getLogger("mailwatch.web.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request the API refuses: its HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure of an API request as a JSON error object."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own refusals: no such path (404), method (405), body too large (413).
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, exc.reason.lower(), headers)
    except StoreError as exc:
        log.error("api: %s: the database cannot be used: %s", request_line(request), exc)
        return error_response(503, "the database cannot be used now; see the daemon's log")
    except Exception as exc:
        # One line; the traceback at debug level (``failures.py``).
        log.error("api: %s failed: %s: %s", request_line(request), type(exc).__name__, exc)
        log.debug("api: %s failed", request_line(request), exc_info=exc)
        return error_response(500, "internal error; see the daemon's log")

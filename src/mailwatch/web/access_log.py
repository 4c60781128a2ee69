"""The access log: one line per request, with nothing secret in it.

aiohttp's default format logs the request line and may be told to log headers; this one logs
the method, the path with ack-link tokens cut out, no query string, the status, the size and
the time. Cookies, Authorization headers and form bodies are never read here.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

_TOKEN_PATH = re.compile(r"^(/ack/)[^/]+")

ACCESS_LOG = logging.getLogger("mailwatch.web.access")


def loggable_path(path: str) -> str:
    """``path`` as it may be logged: an ack link's token becomes ``…``."""
    return _TOKEN_PATH.sub(r"\1…", path)


class MaskedAccessLogger(AbstractAccessLogger):
    """``GET /tickets/MW-000123 200 1834 B 0.004 s from 127.0.0.1`` at debug level."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %d %s B %.3f s from %s",
            request.method,
            loggable_path(request.path),
            response.status,
            response.body_length,
            time,
            request.remote,
        )

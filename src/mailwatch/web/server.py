"""Listening: the web application on the daemon's event loop, started and stopped by it."""

from __future__ import annotations

import logging

from aiohttp import web

from mailwatch.web.access_log import ACCESS_LOG, MaskedAccessLogger
from mailwatch.web.app import build_app
from mailwatch.web.failures import SERVER_LOG
from mailwatch.web.host import WebHost

log = logging.getLogger("mailwatch.web")


def web_url(host: str, port: int) -> str:
    """The address people type on this machine, for the log line."""
    shown = "[::]" if host == "" else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/"


class WebServer:
    """The running server; ``start`` raises ``OSError`` when the address cannot be bound."""

    def __init__(self, host: WebHost) -> None:
        self._runner = web.AppRunner(
            build_app(host),
            access_log_class=MaskedAccessLogger,
            access_log=ACCESS_LOG,
            handle_signals=False,
            logger=SERVER_LOG,
            # Headers or a body arriving slower than this end the connection (slowloris).
            keepalive_timeout=15.0,
            shutdown_timeout=2.0,
        )

    async def start(self, host: str, port: int) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, host or None, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise

    async def stop(self) -> None:
        await self._runner.cleanup()

"""The application's typed state keys (aiohttp ``AppKey``)."""

from __future__ import annotations

from aiohttp import web

from mailwatch.web.host import WebHost

HOST = web.AppKey("host", WebHost)
"""The daemon serving the application."""

"""Requests that are not what a browser or the API sends, and a page that fails: each answered
with a short refusal or error and logged in one line, never a traceback at the default level
and never what the client sent (it may hold a bearer token)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers.web import PagesHost, browser, log_in, serving, web_config
from mailwatch.status.model import StatusSnapshot
from mailwatch.store.store import Store

SECRET = "tok-" + "s3cr3t" * 4


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


async def raw_request(base: str, data: bytes) -> bytes:
    """Send ``data`` as it is; the whole answer."""
    parts = urlsplit(base)
    assert parts.hostname is not None and parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /ack/" + b"x" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
        + SECRET.encode() * 400
        + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nBroken header without colon\r\n\r\n",
    ],
    ids=["long-request-line", "long-header-with-a-token", "malformed-header"],
)
async def test_what_is_not_http_is_refused_in_one_line_without_its_bytes(
    tmp_path: Path, store: Store, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base:
        with caplog.at_level(logging.DEBUG, logger="mailwatch"):
            answer = await raw_request(base, request_bytes)
            # The server still answers the next request.
            async with browser() as client, client.get(f"{base}/healthz") as health:
                assert health.status == 200
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:100]
    lines = [r for r in caplog.records if "bad request" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert lines[0].getMessage().startswith("web: bad request from 127.0.0.1: ")
    assert "Traceback" not in caplog.text
    assert SECRET not in caplog.text and "xxxxxxxx" not in caplog.text


class FailingHost(PagesHost):
    """The daemon's side failing in a way nobody foresaw (a bug)."""

    async def snapshot(self) -> StatusSnapshot:
        raise RuntimeError("the status model broke")


async def test_a_page_that_fails_is_a_500_page_and_one_log_line(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    host = FailingHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        with caplog.at_level(logging.INFO, logger="mailwatch"):
            async with client.get(f"{base}/?token={SECRET}") as page:
                body = await page.text()
                assert page.status == 500
                assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert body == "mailwatch failed to answer this request; see the daemon's log.\n"
    failed = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failed == ["web: GET / failed: RuntimeError: the status model broke"]
    assert "Traceback" not in caplog.text and SECRET not in caplog.text

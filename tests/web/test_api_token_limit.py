"""Wrong API bearer tokens are limited per client address: after ``login_attempts`` wrong
ones within ``login_window_s``, that address is answered 429 with Retry-After, even with
the right token, while other clients go on; no token is ever logged."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from helpers.web import PagesHost, browser, serving, web_config
from mailwatch.store.store import Store

TOKEN = "tok-7d1e5c3a9b2f4e6081a2b3c4d5e6f708"
GUESSES = [f"guess-{n}-a4f1c9e27b3d" for n in range(4)]
GUESSER = "203.0.113.7"
BOT = "203.0.113.8"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


async def test_too_many_wrong_tokens_from_one_address_are_refused_with_429(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    config = web_config(
        tmp_path,
        api_tokens={"bot": TOKEN},
        login_attempts=3,
        trusted_proxies=["127.0.0.1"],  # the test names its clients in X-Forwarded-For
    )
    host = PagesHost(config, store)
    caplog.set_level(logging.DEBUG)

    async with serving(host) as base, browser() as client:

        async def call(token: str, address: str) -> tuple[int, str | None, str]:
            headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}
            async with client.get(f"{base}/api/v1/tickets", headers=headers) as answer:
                return answer.status, answer.headers.get("Retry-After"), await answer.text()

        answers = [await call(guess, GUESSER) for guess in GUESSES]
        right_but_blocked = await call(TOKEN, GUESSER)
        other_client = await call(TOKEN, BOT)

    assert [status for status, _, _ in answers] == [401, 401, 401, 429]
    _, retry_after, body = answers[3]
    assert retry_after is not None and 0 < int(retry_after) <= 900
    assert f"too many wrong tokens from {GUESSER}" in body
    assert right_but_blocked[0] == 429  # a guesser learns nothing while refused
    assert other_client[0] == 200
    assert f"api: refused a wrong token from {GUESSER}" in caplog.text
    assert "too many wrong tokens" in caplog.text
    for secret in (TOKEN, *GUESSES):
        assert secret not in caplog.text

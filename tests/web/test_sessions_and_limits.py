"""Sessions expire when idle or old, and when their user is removed; the login limit lets a
key try again once its oldest failure leaves the window; the client address comes from
X-Forwarded-For only through a trusted proxy; /healthz turns 503 when the heartbeat is stale.
Time is a clock the test advances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.web import PagesHost, browser, log_in, serving, web_config
from mailwatch.store.store import Store
from mailwatch.web.ratelimit import FailureLimiter
from mailwatch.web.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_when_idle_too_long_or_too_old_or_its_user_is_gone() -> None:
    clock = Clock()
    sessions = SessionStore(idle_s=lambda: 60, max_s=lambda: 300, clock=clock)
    alice = sessions.create("alice")
    anyone = lambda _: True  # noqa: E731
    for _ in range(4):  # used every 59 s: alive
        clock.now += 59
        assert sessions.get(alice.id, anyone) is alice
    clock.now += 59 + 50  # 345 s after login, though used within the minute
    assert sessions.get(alice.id, anyone) is None
    bob = sessions.create("bob")
    clock.now += 61
    assert sessions.get(bob.id, anyone) is None
    carol = sessions.create("carol")
    assert sessions.get(carol.id, lambda user: user != "carol") is None
    assert sessions.get(carol.id, anyone) is None  # forgotten, not just hidden
    assert len(sessions) == 0


def test_ids_and_csrf_tokens_are_long_random_and_distinct() -> None:
    sessions = SessionStore(idle_s=lambda: 60, max_s=lambda: 300)
    made = [sessions.create("alice") for _ in range(50)]
    values = {s.id for s in made} | {s.csrf for s in made}
    assert len(values) == 100
    assert all(len(v) >= 43 for v in values)
    assert "id=" not in repr(made[0]) and made[0].id not in repr(made[0])


def test_the_limit_lifts_when_the_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    limiter = FailureLimiter(attempts=lambda: 3, window_s=lambda: 900, clock=clock)
    for step in range(3):
        assert limiter.retry_after_s(["user:alice"]) is None
        limiter.failed(["user:alice"])
        clock.now += 100 if step < 2 else 0
    assert limiter.retry_after_s(["user:alice"]) == pytest.approx(700)
    assert limiter.retry_after_s(["user:bob"]) is None
    clock.now += 700
    assert limiter.retry_after_s(["user:alice"]) is None


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    tmp_path: Path, store: Store
) -> None:
    config = web_config(tmp_path, login_attempts=2, trusted_proxies=["127.0.0.1"])
    host = PagesHost(config, store)
    async with serving(host) as base:
        async with browser() as client:
            client.headers["X-Forwarded-For"] = "198.51.100.7"
            for user in ("bob", "carol"):
                assert (await log_in(client, base, user=user, password="x")).status == 401
            assert (await log_in(client, base)).status == 429
        async with browser() as other:
            # Another client behind the same proxy; a forged first hop does not help the first.
            other.headers["X-Forwarded-For"] = "198.51.100.7, 203.0.113.9"
            assert (await log_in(other, base)).status == 303


async def test_without_trusted_proxies_the_header_is_ignored(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path, login_attempts=2), store)
    async with serving(host) as base:
        async with browser() as client:
            client.headers["X-Forwarded-For"] = "198.51.100.7"
            for user in ("bob", "carol"):
                assert (await log_in(client, base, user=user, password="x")).status == 401
        async with browser() as other:
            other.headers["X-Forwarded-For"] = "203.0.113.9"
            assert (await log_in(other, base)).status == 429


async def test_healthz_is_503_when_the_heartbeat_is_stale(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    host.last_heartbeat = datetime.now(UTC) - timedelta(
        seconds=host.config.daemon.stale_after_s + 5
    )
    async with serving(host) as base, browser() as client, client.get(f"{base}/healthz") as answer:
        body = await answer.json()
    assert answer.status == 503
    assert body["status"] == "stale" and body["heartbeat_age_s"] > host.config.daemon.stale_after_s

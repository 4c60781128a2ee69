"""Logging in to the web pages: argon2 passwords, sessions in cookies, CSRF on every form,
failed logins limited, anonymous visitors sent to the login page; nothing secret logged.

The server is the real ``WebServer`` over a real SQLite store; the daemon's part is
``helpers.web.PagesHost`` (tests/web/test_server.py runs it inside ``mailwatch run``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers.builders import result
from helpers.web import PASSWORD, PagesHost, browser, hidden, log_in, serving, web_config
from mailwatch.domain.results import State
from mailwatch.store.store import Store
from mailwatch.web.access import SESSION_COOKIE
from mailwatch.web.devices import DEVICE_COOKIE


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


async def test_the_right_password_opens_the_overview(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        answer = await log_in(client, base)
        assert answer.status == 303
        assert answer.headers["Location"] == "/"
        async with client.get(f"{base}/") as page:
            text = await page.text()
        assert page.status == 200
        assert "Open tickets" in text
        assert "alice" in text


async def test_a_second_login_page_does_not_void_the_form_already_shown(
    tmp_path: Path, store: Store
) -> None:
    """A browser fetches /favicon.ico after the login page and is sent to the login page for
    it too; that page must not make the form on screen "expired"."""
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        async with client.get(f"{base}/login?next=/") as shown:
            nonce = hidden(await shown.text(), "nonce")
        async with client.get(f"{base}/favicon.ico") as favicon:  # lands on the login page
            assert favicon.url.path == "/login"
        async with client.post(
            f"{base}/login?next=/",
            data={"nonce": nonce, "user": "alice", "password": PASSWORD},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303 and answer.headers["Location"] == "/"


async def test_a_wrong_password_is_refused_without_a_session(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        answer = await log_in(client, base, password="not it")
        assert answer.status == 401
        unknown = await log_in(client, base, user="mallory", password=PASSWORD)
        assert unknown.status == 401
        async with client.get(f"{base}/", allow_redirects=False) as page:
            assert page.status == 303
            assert page.headers["Location"].startswith("/login?next=")


async def test_anonymous_visitors_get_only_healthz_and_the_login_page(
    tmp_path: Path, store: Store
) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        for path in ("/", "/tickets/MW-000001", "/no-such-page"):
            async with client.get(f"{base}{path}", allow_redirects=False) as page:
                assert page.status == 303, path
                assert page.headers["Location"].startswith("/login"), path
        async with client.post(
            f"{base}/tickets/MW-000001/ack", data={"note": "x"}, allow_redirects=False
        ) as posted:
            assert posted.status == 403
        async with client.get(f"{base}/healthz") as health:
            assert health.status == 200
        async with client.get(f"{base}/login") as login:
            assert login.status == 200


async def test_public_status_opens_the_overview_read_only(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path, public_status=True), store)
    for state in (State.CRITICAL, State.CRITICAL):
        await host.record(result(state, datetime.now(UTC)))
    async with serving(host) as base, browser() as client:
        async with client.get(f"{base}/", allow_redirects=False) as page:
            text = await page.text()
        assert page.status == 200
        assert "MW-000001" in text
        assert 'href="/tickets/MW-000001"' not in text  # the ticket page still needs a login
        async with client.get(f"{base}/tickets/MW-000001", allow_redirects=False) as ticket:
            assert ticket.status == 303


async def test_too_many_failures_are_refused_with_retry_after(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path, login_attempts=3, login_window_s=600), store)
    async with serving(host) as base, browser() as client:
        for _ in range(3):
            assert (await log_in(client, base, password="guess")).status == 401
        # Even the right password waits now: the limit holds whatever is tried.
        blocked = await log_in(client, base)
        assert blocked.status == 429
        assert 590 <= int(blocked.headers["Retry-After"]) <= 600


async def test_the_limit_counts_per_address_across_user_names(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path, login_attempts=2), store)
    async with serving(host) as base, browser() as client:
        assert (await log_in(client, base, user="bob", password="x")).status == 401
        assert (await log_in(client, base, user="carol", password="x")).status == 401
        assert (await log_in(client, base)).status == 429


async def test_a_login_form_from_elsewhere_is_refused(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with (
        serving(host) as base,
        browser() as client,
        client.post(
            f"{base}/login",
            data={"nonce": "made-up", "user": "alice", "password": PASSWORD},
            allow_redirects=False,
        ) as answer,
    ):
        assert answer.status == 403
        assert "mailwatch_session" not in answer.cookies


async def test_a_form_without_its_csrf_token_is_refused(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    now = datetime.now(UTC)
    await host.record(result(State.CRITICAL, now))
    await host.record(result(State.CRITICAL, now))
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        for form in ({"note": "on it"}, {"note": "on it", "csrf": "forged"}):
            async with client.post(
                f"{base}/tickets/MW-000001/ack", data=form, allow_redirects=False
            ) as posted:
                assert posted.status == 403
                assert "CSRF" in await posted.text()
        snapshot = await host.snapshot()
        assert snapshot.tickets[0].acknowledged_by is None
        assert host.changes == 0


async def test_session_cookies_are_secure_httponly_samesite_by_default(
    tmp_path: Path, store: Store
) -> None:
    config = web_config(tmp_path)
    config = config.model_copy(
        update={"web": config.web.model_copy(update={"cookie_secure": True})}
    )
    host = PagesHost(config, store)
    async with serving(host) as base, browser() as client:
        async with client.get(f"{base}/login") as form:
            nonce = hidden(await form.text(), "nonce")
            nonce_cookie = form.cookies["mailwatch_form"]
        async with client.post(
            f"{base}/login",
            data={"nonce": nonce, "user": "alice", "password": PASSWORD},
            cookies={"mailwatch_form": nonce_cookie.value},
            allow_redirects=False,
        ) as answer:
            cookie = answer.cookies["mailwatch_session"]
    assert answer.status == 303
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


async def test_logging_out_ends_the_session(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        async with client.get(f"{base}/") as page:
            csrf = hidden(await page.text(), "csrf")
        session_id = next(c.value for c in client.cookie_jar if c.key == "mailwatch_session")
        async with client.post(f"{base}/logout", data={"csrf": csrf}, allow_redirects=False) as out:
            assert out.status == 303
        # The old id is dead on the server, not only gone from this browser.
        async with client.get(
            f"{base}/", cookies={"mailwatch_session": session_id}, allow_redirects=False
        ) as again:
            assert again.status == 303


async def test_no_password_session_id_or_token_reaches_the_log(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        await log_in(client, base, password="wrong-" + PASSWORD)
        await log_in(client, base)
        session_id = next(c.value for c in client.cookie_jar if c.key == "mailwatch_session")
        async with client.get(
            f"{base}/?token=query-secret", headers={"Authorization": "Bearer header-secret"}
        ) as page:
            csrf = hidden(await page.text(), "csrf")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /login 200" in logged  # the access log is on, and was captured
    assert "alice logged in" in logged
    for secret in (PASSWORD, session_id, csrf, "query-secret", "header-secret", "imap-secret"):
        assert secret not in logged, secret


async def test_failures_under_a_name_elsewhere_do_not_lock_out_the_users_own_browser(
    tmp_path: Path, store: Store
) -> None:
    """Anyone who knows the name ``alice`` can fail her logins; that locks the name for every
    browser she never logged in from, but not for the one she did (its failures are counted
    apart, under its device cookie, with the same limit)."""
    config = web_config(tmp_path, login_attempts=2, trusted_proxies=["127.0.0.1"])
    host = PagesHost(config, store)
    async with serving(host) as base, browser() as alice, browser() as attacker:
        alice.headers["X-Forwarded-For"] = "198.51.100.7"
        attacker.headers["X-Forwarded-For"] = "203.0.113.9"
        assert (await log_in(alice, base)).status == 303
        device = [c for c in alice.cookie_jar if c.key == DEVICE_COOKIE]
        assert len(device) == 1 and device[0]["httponly"] and device[0]["path"] == "/login"
        # A new visit (the session cookie gone), the device cookie kept.
        alice.cookie_jar.clear(lambda c: c.key == SESSION_COOKIE)

        for _ in range(2):
            assert (await log_in(attacker, base, password="guess")).status == 401
        assert (await log_in(attacker, base)).status == 429
        async with browser() as stranger:
            stranger.headers["X-Forwarded-For"] = "192.0.2.44"
            assert (await log_in(stranger, base)).status == 429  # the name is locked

        assert (await log_in(alice, base)).status == 303  # but not for her browser
        alice.cookie_jar.clear(lambda c: c.key == SESSION_COOKIE)
        for _ in range(2):
            assert (await log_in(alice, base, password="typo")).status == 401
        assert (await log_in(alice, base)).status == 429  # which has a limit of its own


async def test_a_device_cookie_of_another_user_or_made_up_does_not_lift_the_lock(
    tmp_path: Path, store: Store
) -> None:
    config = web_config(tmp_path, login_attempts=2, trusted_proxies=["127.0.0.1"])
    host = PagesHost(config, store)
    async with serving(host) as base, browser() as attacker:
        attacker.headers["X-Forwarded-For"] = "203.0.113.9"
        for _ in range(2):
            assert (await log_in(attacker, base, password="guess")).status == 401
        async with browser() as forger:
            forger.headers["X-Forwarded-For"] = "192.0.2.44"
            forger.cookie_jar.update_cookies({DEVICE_COOKIE: "made-up-token-made-up-token-1234"})
            assert (await log_in(forger, base)).status == 429

"""A check's page: its state, figures, open ticket (linked), recent results from the store,
its configuration with every secret masked, the marks (silenced, below quorum) and each
site's last result; the overview linking each check to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers.builders import result
from helpers.web import PagesHost, browser, log_in, serving, web_config
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.results import State
from mailwatch.incidents.actions import silence_check
from mailwatch.store.store import Store

IMAP_PASSWORD = "imap-secret-password"
"""The canary's IMAP password in ``web_config``: it must appear on no page."""

SITES = [NodeIdentity(name=f"node-{s}", site=f"site-{s}") for s in "abc"]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


def with_voting_check(tmp_path: Path) -> MailwatchConfig:
    """``web_config``'s canary, plus ``relay``: an SMTP service check run from three sites,
    a ticket when two fail."""
    canary: dict[str, Any] = {
        "name": "canary",
        "mail_from": "mw@example.org",
        "rcpt_to": "canary@example.org",
        "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
        "imap": {"host": "127.0.0.1", "tls": "none", "username": "u", "password": IMAP_PASSWORD},
    }
    relay = {
        "name": "relay",
        "protocol": "smtp",
        "host": "127.0.0.1",
        "port": 25,
        "run_from": [n.site for n in SITES],
        "quorum": 2,
    }
    return web_config(tmp_path, extra={"checks": {"roundtrip": [canary], "service": [relay]}})


async def test_the_page_shows_state_ticket_results_and_masked_config(
    tmp_path: Path, store: Store
) -> None:
    host = PagesHost(web_config(tmp_path), store)
    now = datetime.now(UTC)
    await host.record(result(State.OK, now - timedelta(minutes=3), summary="canary arrived"))
    for minutes in (2, 1):
        late = now - timedelta(minutes=minutes)
        await host.record(
            result(State.CRITICAL, late, summary="canary lost", metrics={"latency_s": 61.5})
        )
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        async with client.get(f"{base}/checks/canary") as answer:
            text = await answer.text()
        async with client.get(f"{base}/") as overview:
            front = await overview.text()
    assert answer.status == 200
    assert 'data-check="canary" data-state="critical"' in text
    assert "canary lost" in text
    assert '<a href="/tickets/MW-000001">MW-000001</a>' in text
    assert "<th>latency_s</th><td>61.5</td>" in text  # the last result's figures
    recent = text[text.index("Recent results (3)") :]  # the store's three, newest first
    assert recent.count("canary lost") == 2
    assert recent.index("canary lost") < recent.index("canary arrived")
    assert "<th>imap.password</th><td><code>****</code>" in text
    assert "<th>imap.host</th><td><code>&quot;127.0.0.1&quot;</code>" in text
    assert IMAP_PASSWORD not in text and IMAP_PASSWORD not in front
    assert '<a href="/checks/canary">canary</a>' in front


async def test_silenced_and_below_quorum_marks_and_each_sites_result(
    tmp_path: Path, store: Store
) -> None:
    config = with_voting_check(tmp_path)
    host = PagesHost(config, store)
    now = datetime.now(UTC)
    await host.record(result(State.OK, now))
    await silence_check(store, config, "canary", timedelta(hours=2), "relay work", "bob", now)
    for node, state in zip(SITES, (State.CRITICAL, State.OK, State.OK), strict=True):
        stage = "smtp_connect" if state is State.CRITICAL else None
        ran = result(state, now, "relay", kind="service", stage=stage, summary=state.label)
        await host.record(ran, vantage=node)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        async with client.get(f"{base}/checks/relay") as relay:
            relay_page = await relay.text()
        async with client.get(f"{base}/checks/canary") as canary:
            canary_page = await canary.text()
        async with client.get(f"{base}/") as overview:
            front = await overview.text()
    assert 'data-mark="below-quorum"' in relay_page
    assert "1 of 3 site(s) failing; quorum 2 (below quorum: no ticket)" in relay_page
    for node in SITES:
        assert f'data-site="{node.site}"' in relay_page
        assert f"on {node.name}" in relay_page
    assert 'data-site="site-a" data-state="critical"' in relay_page
    assert "No open ticket." in relay_page
    assert 'data-mark="silence"' in canary_page
    assert "silenced by bob: relay work" in canary_page
    relay_card = front[front.index('data-check="relay"') :]
    assert 'data-mark="below-quorum"' in relay_card[: relay_card.index("</div>")]


async def test_unknown_checks_are_404_and_the_page_needs_a_login(
    tmp_path: Path, store: Store
) -> None:
    host = PagesHost(web_config(tmp_path, public_status=True), store)
    async with serving(host) as base, browser() as client:
        async with client.get(f"{base}/checks/canary", allow_redirects=False) as anonymous:
            assert anonymous.status == 303
            assert anonymous.headers["Location"].startswith("/login?next=")
        async with client.get(f"{base}/") as overview:
            front = await overview.text()
        assert 'href="/checks/canary"' not in front  # the public overview links to no page
        await log_in(client, base)
        async with client.get(f"{base}/checks/nonesuch") as missing:
            assert missing.status == 404

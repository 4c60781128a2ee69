"""A ticket's page and its forms: the clocks and timeline shown, acknowledging stops the
response clock and names the user, mitigate/resolve need a note, silencing a check works,
and everything a person typed is escaped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from helpers.builders import result
from helpers.web import PagesHost, browser, hidden, log_in, serving, web_config
from mailwatch.domain.results import State
from mailwatch.domain.tickets import TicketStatus
from mailwatch.store.store import Store
from mailwatch.store.tickets import load_ticket


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


async def open_ticket(host: PagesHost, summary: str = "canary is critical") -> None:
    now = datetime.now(UTC)
    for _ in range(2):
        await host.record(result(State.CRITICAL, now, summary=summary))


async def post_form(
    client: aiohttp.ClientSession, base: str, verb: str, **fields: str
) -> tuple[int, str, str]:
    async with client.get(f"{base}/tickets/MW-000001") as page:
        csrf = hidden(await page.text(), "csrf")
    async with client.post(
        f"{base}/tickets/MW-000001/{verb}", data={"csrf": csrf, **fields}, allow_redirects=False
    ) as answer:
        return answer.status, answer.headers.get("Location", ""), await answer.text()


async def test_the_page_shows_clocks_timeline_and_forms(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    await open_ticket(host)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        async with client.get(f"{base}/tickets/MW-000001") as page:
            text = await page.text()
    assert page.status == 200
    assert "response due" in text
    assert re.search(r"<dd>in (3 h 59 min|4 h) ", text)
    assert "ticket opened" in text
    for verb in ("ack", "mitigate", "resolve", "silence"):
        assert f'action="/tickets/MW-000001/{verb}"' in text
    assert text.count('name="csrf"') >= 5  # four forms and the logout button


async def test_acknowledging_stops_the_response_clock_and_names_the_user(
    tmp_path: Path, store: Store
) -> None:
    host = PagesHost(web_config(tmp_path), store)
    await open_ticket(host)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        status, location, _ = await post_form(client, base, "ack", note="looking at the relay")
        assert (status, location) == (303, "/tickets/MW-000001?done=acknowledged")
        async with client.get(f"{base}{location}") as page:
            text = await page.text()
        again = await post_form(client, base, "ack", note="twice")
    async with store.read() as conn:
        ticket = await load_ticket(conn, 1)
    assert ticket is not None
    assert ticket.status is TicketStatus.ACKNOWLEDGED
    assert ticket.acknowledged_by == "alice"
    assert "met (" in text  # the response clock stopped, in time
    assert "looking at the relay" in text
    assert again[0] == 200 and "Already acknowledged by alice." in again[2]
    assert host.changes == 1


async def test_mitigate_and_resolve_need_a_note(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    await open_ticket(host)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        status, _, text = await post_form(client, base, "resolve", note="  ")
        assert status == 400 and "needs a note" in text
        status, _, _ = await post_form(client, base, "resolve", note="relay replaced")
        assert status == 303
    async with store.read() as conn:
        ticket = await load_ticket(conn, 1)
    assert ticket is not None and ticket.status is TicketStatus.RESOLVED
    assert ticket.resolution_note == "relay replaced"


async def test_silencing_the_check_from_its_ticket(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    await open_ticket(host)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        status, _, text = await post_form(
            client, base, "silence", note="relay work", **{"for": "soon"}
        )
        assert status == 400 and "soon" in text
        status, _, _ = await post_form(client, base, "silence", note="relay work", **{"for": "2h"})
        assert status == 303
    snapshot = await host.snapshot()
    check = next(c for c in snapshot.checks if c.name == "canary")
    assert check.silenced_until is not None
    assert 7100 < (check.silenced_until - datetime.now(UTC)).total_seconds() <= 7200


async def test_what_people_typed_is_escaped(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    await open_ticket(host, summary="<script>alert(1)</script>")
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        await post_form(client, base, "ack", note='"><img src=x onerror=alert(2)>')
        async with client.get(f"{base}/tickets/MW-000001") as page:
            text = await page.text()
        async with client.get(f"{base}/") as overview:
            front = await overview.text()
    assert "<script>alert(1)" not in text and "<script>alert(1)" not in front
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


async def test_an_unknown_ticket_is_404(tmp_path: Path, store: Store) -> None:
    host = PagesHost(web_config(tmp_path), store)
    async with serving(host) as base, browser() as client:
        await log_in(client, base)
        # A number past any the database can hold is no ticket either, not an error.
        for path in ("/tickets/MW-000042", "/tickets/nonsense", f"/tickets/MW-{10**30}"):
            async with client.get(f"{base}{path}") as page:
                assert page.status == 404, path

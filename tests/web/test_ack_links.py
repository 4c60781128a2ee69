"""Ack links in the web server: the GET only shows a confirmation page; its button (POST,
with the form's nonce) acknowledges on behalf of the notice's route and stops the response
clock; an expired or altered link is refused and does nothing. Links are made by
``alerts.facts.ack_link``, as the sender makes them for a notice."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.builders import result
from helpers.web import LINK_KEY, PagesHost, browser, hidden, serving, web_config
from mailwatch.alerts.facts import ack_link
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.results import State
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.store.store import Store
from mailwatch.store.tickets import load_ticket

PUBLIC = "https://mw.example.net"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'mailwatch.db'}")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def host(tmp_path: Path, store: Store) -> PagesHost:
    made = PagesHost(web_config(tmp_path, public_url=PUBLIC, link_key=LINK_KEY), store)
    now = datetime.now(UTC)
    for _ in range(2):
        await made.record(result(State.CRITICAL, now))
    return made


async def ticket(store: Store) -> Ticket:
    async with store.read() as conn:
        found = await load_ticket(conn, 1)
    assert found is not None
    return found


async def path_of_link(host: PagesHost, now: datetime, route: str = "oncall") -> str:
    link = ack_link(await ticket(host.store), NoticeKind.OPENED, host.config, route, now)
    assert link is not None and link.startswith(f"{PUBLIC}/ack/")
    return link.removeprefix(PUBLIC)


async def test_the_get_confirms_and_the_post_acknowledges_for_the_route(
    host: PagesHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = await path_of_link(host, datetime.now(UTC))
    async with serving(host) as base, browser() as client:
        for _ in range(2):  # a mail scanner, then the person
            async with client.get(f"{base}{path}") as page:
                text = await page.text()
            assert page.status == 200
        assert "Acknowledge MW-000001" in text and "oncall" in text
        assert (await ticket(host.store)).acknowledged_at is None  # opening the link did nothing
        async with client.post(f"{base}{path}", data={"nonce": "forged"}) as forged:
            assert forged.status == 403
        assert (await ticket(host.store)).acknowledged_at is None
        async with client.post(f"{base}{path}", data={"nonce": hidden(text, "nonce")}) as done:
            answer = await done.text()
        assert done.status == 200 and "MW-000001 acknowledged" in answer
        async with client.get(f"{base}{path}") as later:
            assert "already acknowledged" in await later.text()
    acked = await ticket(host.store)
    assert acked.status is TicketStatus.ACKNOWLEDGED
    assert acked.acknowledged_by == "oncall (ack link)"
    snapshot = await host.snapshot()
    assert snapshot.tickets[0].acknowledged_by == "oncall (ack link)"
    assert host.changes == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    token = path.removeprefix("/ack/")
    assert "/ack/… 200" in logged
    assert token not in logged and token[-20:] not in logged


async def test_an_expired_link_is_refused_with_410(host: PagesHost) -> None:
    path = await path_of_link(host, datetime.now(UTC) - timedelta(days=2))
    async with serving(host) as base, browser() as client:
        async with client.get(f"{base}{path}") as page:
            assert page.status == 410
            assert "expired" in await page.text()
        async with client.post(f"{base}{path}", data={"nonce": "x"}) as posted:
            assert posted.status == 410
    assert (await ticket(host.store)).acknowledged_at is None


async def test_an_altered_link_is_refused_with_403(host: PagesHost) -> None:
    path = await path_of_link(host, datetime.now(UTC))
    number, expiry, route, mac = path.removeprefix("/ack/").split(".")
    other_route = (await path_of_link(host, datetime.now(UTC), "boss")).split(".")[2]
    altered = [
        f"/ack/{number}.{int(expiry) + 86400}.{route}.{mac}",  # a longer life
        f"/ack/{number}.{expiry}.{other_route}.{mac}",  # another route
        f"/ack/2.{expiry}.{route}.{mac}",  # another ticket
        path[:-3],
    ]
    async with serving(host) as base, browser() as client:
        for bad in altered:
            async with client.get(f"{base}{bad}") as page:
                assert page.status == 403, bad
                assert "not valid" in await page.text()
            async with client.post(f"{base}{bad}", data={"nonce": "x"}) as posted:
                assert posted.status == 403
    assert (await ticket(host.store)).acknowledged_at is None


async def test_no_link_once_acknowledged_and_none_without_public_url(
    tmp_path: Path, host: PagesHost, store: Store
) -> None:
    now = datetime.now(UTC)
    assert ack_link(await ticket(store), NoticeKind.RECOVERY, host.config, "oncall", now) is None
    plain = web_config(tmp_path)
    assert ack_link(await ticket(store), NoticeKind.OPENED, plain, "oncall", now) is None
    async with serving(PagesHost(plain, store)) as base, browser() as client:
        path = await path_of_link(host, now)
        async with client.get(f"{base}{path}") as page:
            assert page.status == 404  # links are off without link_key

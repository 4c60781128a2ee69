"""The vote through the processor, on a real SQLite file and a real PostgreSQL database:
each site's result stored with its site, one ticket when a quorum fails, none below it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from helpers.builders import T0, config, result
from helpers.store_queries import all_tickets
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.results import State
from mailwatch.domain.tickets import TicketStatus
from mailwatch.domain.timeline import EventType
from mailwatch.incidents.processor import ProcessOutcome, process_result
from mailwatch.store.schema import check_results, outbox
from mailwatch.store.sites import sites_by_check
from mailwatch.store.store import Store

OK, CRIT = State.OK, State.CRITICAL
A, B, C = (NodeIdentity(name=f"node-{s}", site=f"site-{s}") for s in "abc")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


def voting(**check: Any) -> MailwatchConfig:
    return config(
        checks={
            "service": [
                {
                    "name": "canary",
                    "protocol": "smtp",
                    "host": "127.0.0.1",
                    "port": 25,
                    "interval_s": 60,
                    "timeout_s": 10,
                    "run_from": ["site-a", "site-b", "site-c"],
                    **check,
                }
            ]
        },
        routes={"oncall": {"urls": ["json://127.0.0.1:9/hook"]}},
    )


class Sites:
    """Results from three sites, ten seconds apart, through the processor."""

    def __init__(self, store: Store, cfg: MailwatchConfig) -> None:
        self.store, self.cfg, self.now = store, cfg, T0

    async def send(self, node: NodeIdentity, state: State) -> ProcessOutcome:
        self.now += timedelta(seconds=10)
        return await process_result(
            self.store, self.cfg, self.at(state, self.now), self.now, vantage=node
        )

    @staticmethod
    def at(state: State, now: datetime) -> Any:
        stage = None if state is OK else "smtp_connect"
        return result(state, now, "canary", kind="service", stage=stage)


async def opened_events(store: Store) -> list[Any]:
    async with store.read() as conn:
        rows = (await conn.execute(select(outbox.c.kind))).scalars().all()
    return list(rows)


async def test_one_failing_site_is_below_quorum_and_pages_nobody(store: Store) -> None:
    sites = Sites(store, voting())
    for _ in range(4):
        await sites.send(A, CRIT)
        await sites.send(B, OK)
        outcome = await sites.send(C, OK)
    assert outcome.vote is not None and outcome.vote.below_quorum
    assert outcome.vote.failing == ("site-a",)
    async with store.read() as conn:
        assert await all_tickets(conn) == []
        by_site = (await conn.execute(select(check_results.c.site))).scalars().all()
        stored = (await sites_by_check(conn))["canary"]
    assert sorted(set(by_site)) == ["site-a", "site-b", "site-c"]
    assert [(s.site, s.state, s.node, s.bad_streak) for s in stored] == [
        ("site-a", CRIT, "node-a", 4),
        ("site-b", OK, "node-b", 0),
        ("site-c", OK, "node-c", 0),
    ]
    assert await opened_events(store) == []


async def test_two_failing_sites_open_one_ticket_and_a_quorum_healthy_resolves_it(
    store: Store,
) -> None:
    sites = Sites(store, voting())
    events = []
    for _ in range(3):
        for node, state in ((A, CRIT), (B, CRIT), (C, OK)):
            events += [e.event.type for e in (await sites.send(node, state)).events]
    assert events.count(EventType.TICKET_OPENED) == 1
    for _ in range(2):
        for node in (A, B, C):
            events += [e.event.type for e in (await sites.send(node, OK)).events]
    assert events.count(EventType.TICKET_RESOLVED) == 1
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
    assert ticket.status is TicketStatus.RESOLVED
    assert ticket.last_summary.startswith("failing at 2 of 3 sites (site-a, site-b)")
    # One notice queued for the one ticket (its recovery came before anyone was told, so the
    # rulebook sends none: docs/alerts.md).
    assert await opened_events(store) == ["opened"]


async def test_the_failing_site_awaits_confirmation_the_healthy_one_does_not(
    store: Store,
) -> None:
    sites = Sites(store, voting())
    assert (await sites.send(A, CRIT)).awaits_confirmation
    assert not (await sites.send(B, OK)).awaits_confirmation


async def test_a_site_not_listed_is_stored_but_does_not_vote(store: Store) -> None:
    cfg = voting(run_from=["site-a", "site-b"], quorum=1)
    sites = Sites(store, cfg)
    for _ in range(3):
        outcome = await sites.send(C, CRIT)
    assert outcome.vote is not None and outcome.vote.failing == ()
    for _ in range(2):
        await sites.send(A, CRIT)
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
    assert ticket.last_summary.startswith("failing at 1 of 2 sites (site-a)")


async def test_without_run_from_the_results_of_every_node_count_as_one_check(
    store: Store,
) -> None:
    cfg = voting(run_from=None)
    sites = Sites(store, cfg)
    first = await sites.send(A, CRIT)
    second = await sites.send(B, CRIT)
    assert first.vote is None and second.vote is None
    assert [e.event.type for e in second.events] == [EventType.TICKET_OPENED]

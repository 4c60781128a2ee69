"""The store's change marker (``store/changes.py``), which a daemon with a browser watching
reads once a second: it moves for what people act on, whoever wrote it (a result that changes
a check's shown state or stage, a ticket's timeline, a silence added or ended), and stays put
for results that change nothing shown. On SQLite and PostgreSQL (``helpers.store_engines``);
the changes are made through the processor and people's actions, as the CLI makes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from datetime import timedelta

import pytest

from helpers.builders import T0, config, minutes, result
from mailwatch.domain.results import State
from mailwatch.incidents.actions import acknowledge_ticket, silence_check, unsilence_check
from mailwatch.incidents.processor import process_result
from mailwatch.store.changes import change_marker
from mailwatch.store.store import Store

OK, CRIT = State.OK, State.CRITICAL


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


async def marker(store: Store) -> Hashable:
    async with store.read() as conn:
        return await change_marker(conn)


async def test_the_marker_moves_for_what_people_act_on_and_only_that(store: Store) -> None:
    cfg = config(
        incidents={"open_after": 2},
        checks={
            "service": [
                {
                    "name": "other",
                    "protocol": "banner",
                    "host": "127.0.0.1",
                    "port": 25,
                    "banner": "^220",
                }
            ]
        },
    )
    moments = iter(T0 + minutes(i) for i in range(100))

    async def feed(state: State, stage: str | None = "", summary: str | None = None) -> Hashable:
        now = next(moments)
        await process_result(store, cfg, result(state, now, stage=stage, summary=summary), now)
        return await marker(store)

    empty = await marker(store)
    first = await feed(OK)
    assert first != empty  # a check shown for the first time
    # Other summaries and figures, same state and stage: nothing shown changed.
    assert await feed(OK, summary="delivered in 2.1 s") == first
    failing = await feed(CRIT)
    assert failing != first
    opened = await feed(CRIT)
    assert opened != failing  # the ticket opened: a timeline event
    assert await feed(CRIT, summary="still down") == opened
    restaged = await feed(CRIT, stage="smtp_connect")
    assert restaged != opened

    await acknowledge_ticket(store, cfg, 1, "alice", "looking", next(moments))
    acked = await marker(store)
    assert acked != restaged
    # A silence of a check without a ticket writes no event: the silence itself moves it,
    # when added and when ended.
    await silence_check(store, cfg, "other", timedelta(hours=1), "work", "bob", next(moments))
    silenced = await marker(store)
    assert silenced != acked
    await unsilence_check(store, cfg, "other", "bob", next(moments))
    assert await marker(store) != silenced

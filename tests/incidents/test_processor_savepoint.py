"""A result's history and a new ticket's evidence are written in savepoints: when they fail,
the result, its ticket and its timeline are stored anyway, with one log line; a conflict with
a concurrent transaction still ends the whole transaction, which is run again. On SQLite and
PostgreSQL. The failures are injected (a real write, then an error; or an error carrying a
serialization failure's SQLSTATE), since no real peer fails on demand there."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from helpers.builders import T0, config, minutes, result
from helpers.store_queries import all_tickets
from mailwatch.domain.results import State
from mailwatch.domain.tickets import format_number
from mailwatch.incidents import processor
from mailwatch.incidents.processor import process_result
from mailwatch.store.evidence import load_evidence
from mailwatch.store.history import availability_series
from mailwatch.store.schema import check_results
from mailwatch.store.store import Store

CRIT = State.CRITICAL


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


async def feed_critical(store: Store, count: int) -> None:
    cfg = config()
    for i in range(count):
        now = T0 + minutes(i)
        await process_result(store, cfg, result(CRIT, now), now)


async def stored_results(store: Store) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(check_results))).scalar())


async def history_count(store: Store) -> int:
    async with store.read() as conn:
        series = await availability_series(conn, "canary", T0, T0 + minutes(60), 3600)
    return sum(bucket.states.critical for bucket in series)


async def test_a_failing_history_write_loses_neither_the_result_nor_its_ticket(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = processor.record_history

    async def write_then_fail(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)  # written, then undone with its savepoint
        raise RuntimeError("history bucket refused")

    monkeypatch.setattr(processor, "record_history", write_then_fail)
    with caplog.at_level(logging.WARNING, logger="mailwatch.store"):
        await feed_critical(store, 3)
    assert await stored_results(store) == 3
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
    assert ticket.check == "canary"
    assert await history_count(store) == 0
    lines = [r.getMessage() for r in caplog.records if "history" in r.getMessage()]
    assert (
        lines
        == ["check canary: history: not recorded, the rest is stored: history bucket refused"] * 3
    )
    assert all(r.exc_info is None for r in caplog.records)


async def test_failing_evidence_loses_not_the_ticket_that_opened(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = processor.record_opening

    async def write_then_fail(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)
        raise ValueError("evidence refused")

    monkeypatch.setattr(processor, "record_opening", write_then_fail)
    with caplog.at_level(logging.WARNING, logger="mailwatch.store"):
        await feed_critical(store, 3)
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
        evidence = await load_evidence(conn, ticket.number)
    assert evidence == []
    assert await history_count(store) == 3
    shown = format_number(ticket.number, config().incidents.ticket_prefix)
    assert [r.getMessage() for r in caplog.records] == [
        f"check canary: root-cause evidence of ticket {shown}: not recorded, the rest is "
        "stored: evidence refused"
    ]


class SerializationFailure(Exception):
    sqlstate = "40001"


async def test_a_conflict_in_the_history_write_runs_the_whole_transaction_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = processor.record_history
    calls = 0

    async def conflict_once(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        await real(*args, **kwargs)
        if calls == 1:
            raise DBAPIError("INSERT ...", {}, SerializationFailure("could not serialize"))

    monkeypatch.setattr(processor, "record_history", conflict_once)
    await feed_critical(store, 1)
    assert calls == 2
    assert await stored_results(store) == 1
    assert await history_count(store) == 1


async def test_a_statement_the_database_refuses_in_the_history_write_is_absorbed_too(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL a failed statement aborts the transaction unless its savepoint is rolled
    back; the log line shows the database's message, not the statement."""

    async def refused(conn: AsyncConnection, *args: Any) -> None:
        await conn.execute(text("INSERT INTO no_such_table VALUES (1)"))

    monkeypatch.setattr(processor, "record_history", refused)
    with caplog.at_level(logging.WARNING, logger="mailwatch.store"):
        await feed_critical(store, 3)
    assert await stored_results(store) == 3
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
    assert ticket.check == "canary"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert all(line.startswith("check canary: history: not recorded") for line in lines)
    assert all("no_such_table" in line and "INSERT" not in line for line in lines)

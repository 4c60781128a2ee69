"""Transactions that lose to a concurrent one on PostgreSQL are run again, so nothing is
dropped: real concurrent transactions on the session's throwaway cluster provoke the
serialization failure (SQLSTATE 40001) a second node would, and the processor's and the
outbox's work still lands, exactly once.

Each test plays the other node with a raw asyncpg connection: a SERIALIZABLE transaction that
writes the row mailwatch is about to write, held open until mailwatch's transaction waits for
it, then committed -- at which point PostgreSQL fails mailwatch's transaction with "could not
serialize access due to concurrent update"."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy import func, select, text, update

from harness.postgres import HOST, PASSWORD, PORT
from helpers.builders import T0, assert_consistent, config, minutes, result
from helpers.http_receiver import HttpReceiver
from helpers.outbox_support import alert_config, fail, open_store, rows, sender
from mailwatch.alerts.announcements import due
from mailwatch.alerts.announcer import Announcer
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.errors import StoreConflictError
from mailwatch.domain.results import State
from mailwatch.domain.tickets import dedup_key
from mailwatch.incidents.processor import process_result
from mailwatch.store.announcements import AnnouncementKey, AnnouncementRow, add_missing
from mailwatch.store.retry import ATTEMPTS, backoff_s, retrying
from mailwatch.store.schema import announcements, check_results, check_states

T = TypeVar("T")
# tests/alerts/test_announcements.py's window: announced 3 days ahead of START.
START = datetime(2026, 12, 10, 22, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
AHEAD = START - timedelta(days=3)
WAIT_S = 30.0
RETRIED = "a concurrent transaction conflicted (attempt 1 of"


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def other_node(url: str, statement: str, *args: Any) -> AsyncIterator[asyncpg.Connection]:
    """A SERIALIZABLE transaction that has run ``statement`` (holding the rows it wrote);
    committed when the block ends."""
    conn = await asyncpg.connect(dsn(url))
    try:
        transaction = conn.transaction(isolation="serializable")
        await transaction.start()
        await conn.execute(statement, *args)
        yield conn
        await transaction.commit()
    finally:
        await conn.close()


async def blocked_on_us(url: str, work: Awaitable[T]) -> asyncio.Task[T]:
    """Start ``work`` and return once one of its statements waits for a row lock."""
    task: asyncio.Task[T] = asyncio.ensure_future(work)
    watcher = await asyncpg.connect(dsn(url))
    try:
        deadline = time.monotonic() + WAIT_S
        while not await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            assert not task.done(), task.exception() if task.done() else None
            assert time.monotonic() < deadline, "mailwatch's transaction never waited for ours"
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()
    return task


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mailwatch")


async def test_a_result_that_loses_a_serialization_conflict_is_stored(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config()
    key = dedup_key("canary", "canary")
    async with open_store(postgres_url) as store:
        await process_result(store, cfg, result(State.CRITICAL, T0, "canary"), T0)
        now = T0 + minutes(1)
        async with other_node(
            postgres_url, "UPDATE check_states SET updated_at = now() WHERE dedup_key = $1", key
        ):
            task = await blocked_on_us(
                postgres_url,
                process_result(store, cfg, result(State.CRITICAL, now, "canary"), now),
            )
        outcome = await asyncio.wait_for(task, WAIT_S)
        async with store.read() as conn:
            stored = (await conn.execute(select(func.count()).select_from(check_results))).scalar()
        counts = await assert_consistent(store)  # results_seen == rows stored, among others
    assert stored == 2
    assert outcome.state.ticket is not None  # open_after = 2: the second failure opened it
    assert counts["tickets"] == 1
    retried = [r.getMessage() for r in caplog.records if RETRIED in r.getMessage()]
    assert retried == [
        f"check canary: {RETRIED} {ATTEMPTS}); again in " + retried[0].rsplit("again in ", 1)[1]
    ]
    assert PASSWORD not in caplog.text


async def test_an_outbox_claim_that_loses_a_serialization_conflict_delivers_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with HttpReceiver() as receiver:
        cfg = alert_config({"team": {"urls": [receiver.url("/team")]}})
        async with open_store(postgres_url) as store:
            opened = await fail(store, cfg, T0)
            [row_id] = opened.outbox_ids
            out = sender(store, cfg)
            async with other_node(
                postgres_url, "UPDATE outbox SET last_error = NULL WHERE id = $1", row_id
            ):
                task = await blocked_on_us(postgres_url, out.run_once(T0 + minutes(1)))
            report = await asyncio.wait_for(task, WAIT_S)
            [row] = await rows(store)
        assert report.delivered == [row_id]
        assert (row.status, row.attempts) == ("delivered", 1)
        assert len(receiver.requests) == 1
    assert any(
        r.getMessage().startswith(f"outbox: claiming due notices: {RETRIED}")
        for r in caplog.records
    )
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("attempt", range(1, ATTEMPTS + 1))
def test_backoff_is_jittered_within_its_bounds(attempt: int) -> None:
    lowest, highest = backoff_s(attempt, lambda: 0.0), backoff_s(attempt, lambda: 1.0)
    assert lowest == highest / 2
    assert highest == min(1.0, 0.02 * 2 ** (attempt - 1))


def test_all_waits_together_stay_bounded() -> None:
    assert sum(backoff_s(n, lambda: 1.0) for n in range(1, ATTEMPTS)) < 4.0


async def test_when_retries_run_out_the_log_names_the_work_and_the_error_not_the_url(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_store(postgres_url) as store:
        await process_result(store, config(), result(State.CRITICAL, T0, "canary"), T0)

        async def transaction() -> None:
            async with store.write() as conn:
                await conn.execute(text("SELECT 1"))  # the snapshot, taken before theirs commits
                await conn.execute(update(check_states).values(updated_at=T0))

        async with other_node(postgres_url, "UPDATE check_states SET updated_at = now()"):
            task = await blocked_on_us(
                postgres_url, retrying("check canary", transaction, attempts=1)
            )
        with pytest.raises(StoreConflictError):
            await asyncio.wait_for(task, WAIT_S)
    database = postgres_url.rsplit("/", 1)[1]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "check canary: not stored: 1 attempt(s), each lost to a concurrent transaction: "
        f"{HOST}:{PORT}/{database}: could not serialize access due to concurrent update"
    ]
    assert PASSWORD not in caplog.text


async def test_a_maintenance_announcement_claim_that_loses_a_conflict_is_delivered_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Another node's announcer writes the announcement row while this one claims it."""
    with HttpReceiver() as receiver:
        cfg = MailwatchConfig.model_validate(
            {
                "checks": {"service": [{"name": "smtp-in", "protocol": "smtp", "host": "::1"}]},
                "routes": {"team": {"urls": [receiver.url("/team")]}},
                "maintenance": [
                    {
                        "name": "upgrade",
                        "checks": ["smtp-in"],
                        "start": START.isoformat(),
                        "end": END.isoformat(),
                        "announce_before": "3d",
                    }
                ],
            }
        )
        async with open_store(postgres_url) as store:
            async with store.write() as conn:
                wanted = [
                    AnnouncementRow(
                        AnnouncementKey(d.occurrence.window, START, d.phase, d.route),
                        END,
                        d.occurrence.payload(d.phase),
                    )
                    for d in due(cfg, AHEAD)
                ]
                [row_id] = await add_missing(conn, wanted, AHEAD)
            out = Announcer(store, lambda: cfg, jitter=lambda: 1.0)
            async with other_node(
                postgres_url, "UPDATE announcements SET last_error = NULL WHERE id = $1", row_id
            ):
                task = await blocked_on_us(postgres_url, out.run_once(AHEAD))
            report = await asyncio.wait_for(task, WAIT_S)
            async with store.read() as conn:
                stored = (
                    await conn.execute(select(announcements.c.status, announcements.c.attempts))
                ).all()
        assert report.delivered == [row_id]
        assert [tuple(row) for row in stored] == [("delivered", 1)]
        assert len(receiver.requests) == 1
    assert any(
        r.getMessage().startswith(f"maintenance: claiming due announcements: {RETRIED}")
        for r in caplog.records
    )
    assert PASSWORD not in caplog.text

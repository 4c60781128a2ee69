"""The sender deletes the outbox rows it has finished with: those of tickets resolved longer
than ``[outbox] retention_days`` ago, at most once an hour. Against a real HTTP receiver on
loopback; the sender's clock is driven with explicit instants."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.http_receiver import HttpReceiver
from helpers.outbox_support import (
    T0,
    alert_config,
    fail,
    notification_events,
    open_store,
    recover,
    rows,
    seconds,
    sender,
    timeline_types,
)
from mailwatch.alerts import upkeep
from mailwatch.alerts.sender import PRUNE_EVERY
from mailwatch.domain.errors import StoreUnavailableError


async def test_delivered_rows_of_a_resolved_ticket_go_after_the_retention(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with HttpReceiver() as receiver:
        cfg = alert_config(
            {"team": {"urls": [receiver.url("/team")]}},
            plan=False,
            outbox={"retention_days": 7},
        )
        async with open_store(tmp_path) as store:
            out = sender(store, cfg)
            await fail(store, cfg, T0)
            assert (await out.run_once(T0)).delivered == [1]
            await recover(store, cfg, T0 + seconds(60))  # resolved at T0 + 61 s
            assert (await out.run_once(T0 + seconds(61))).delivered == [2]
            await fail(store, cfg, T0 + seconds(120), "imap")  # ticket 2 stays open
            assert (await out.run_once(T0 + seconds(120))).delivered == [3]
            assert len(receiver.requests) == 3
            timeline = await timeline_types(store, 1)
            sent = await notification_events(store, 1)

            week = timedelta(days=7)
            assert await out.prune(T0 + week) == 0  # ticket 1 resolved less than 7 days ago
            # Past the retention now, but the last prune was less than an hour ago.
            assert await out.prune(T0 + week + PRUNE_EVERY - seconds(1)) == 0
            assert [row.id for row in await rows(store)] == [1, 2, 3]
            with caplog.at_level(logging.INFO, logger="mailwatch.alerts.sender"):
                assert await out.prune(T0 + week + PRUNE_EVERY) == 2

            [kept] = await rows(store)
            assert (kept.ticket, kept.status) == (2, "delivered")
            assert "outbox: deleted 2 finished notification(s)" in caplog.text
            # The ticket's history is its timeline, which keeps every attempt.
            assert await timeline_types(store, 1) == timeline
            assert await notification_events(store, 1) == sent
            assert [e["notice"] for e in sent] == ["opened", "recovery"]
            # Nothing was sent again.
            assert (await out.run_once(T0 + week + PRUNE_EVERY)).handled == 0
            assert len(receiver.requests) == 3


async def test_the_hourly_history_prune_during_an_outage_adds_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The store tells an outage once; the history prune failing on it says nothing more,
    while any other failure of it is still logged with its traceback. The failures are
    injected: a real outage would stop the outbox prune just before it first."""
    cfg = alert_config({"team": {"urls": ["json://127.0.0.1:9/team"]}}, plan=False)
    failure: Exception = StoreUnavailableError("lost the database at db.example.org:5432/mw")

    async def failing(*args: object) -> int:
        raise failure

    monkeypatch.setattr(upkeep, "prune_history", failing)
    async with open_store(tmp_path) as store:
        out = sender(store, cfg)
        with caplog.at_level(logging.DEBUG, logger="mailwatch"):
            assert await out.prune(T0) == 0
            assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []
            failure = RuntimeError("bucket query broke")
            assert await out.prune(T0 + PRUNE_EVERY) == 0
    (record,) = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert record.getMessage() == "history: deleting old buckets failed"
    assert record.exc_info is not None

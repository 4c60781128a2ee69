"""Maintenance announcements (``[[maintenance]] announce_before``): which are due, to whom,
and their delivery, once each, by the announcer on a real SQLite store to a real local HTTP
receiver (apprise ``json://``). Time is the announcer's ``now``, set by each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from helpers.http_receiver import HttpReceiver
from mailwatch.alerts.announcements import Phase, due, occurrences, routes_for
from mailwatch.alerts.announcer import Announcer
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.notices import OutboxStatus
from mailwatch.store.announcements import (
    AnnouncementKey,
    AnnouncementRow,
    add_missing,
    requeue_interrupted,
)
from mailwatch.store.schema import announcements
from mailwatch.store.store import Store

START = datetime(2026, 12, 10, 22, 0, tzinfo=UTC)
END = START + timedelta(hours=2)
AHEAD = START - timedelta(days=3)
SMTP = {"protocol": "smtp", "host": "127.0.0.1"}


def make_config(
    receiver: HttpReceiver | None = None,
    *,
    window: dict[str, Any] | None = None,
    routes: dict[str, dict[str, Any]] | None = None,
    **outbox: float,
) -> MailwatchConfig:
    url = receiver.url("/team") if receiver is not None else "json://127.0.0.1:9/team"
    return MailwatchConfig.model_validate(
        {
            "checks": {
                "service": [
                    {"name": "smtp-in", "tags": ["mail"], **SMTP},
                    {"name": "web", "tags": ["www"], **SMTP},
                ]
            },
            "routes": routes if routes is not None else {"team": {"urls": [url]}},
            "maintenance": [
                window
                or {
                    "name": "upgrade",
                    "checks": ["smtp-in"],
                    "start": START.isoformat(),
                    "end": END.isoformat(),
                    "announce_before": "3d",
                }
            ],
            "outbox": {"retry_initial_s": 10, **outbox},
        }
    )


@asynccontextmanager
async def store_at(store_url: str) -> AsyncIterator[Store]:
    store = await Store.open(store_url)
    try:
        yield store
    finally:
        await store.close()


def announcer(store: Store, config: MailwatchConfig) -> Announcer:
    return Announcer(store, lambda: config, jitter=lambda: 1.0)


def titles(receiver: HttpReceiver) -> list[str]:
    return [str(request.json()["title"]) for request in receiver.requests]


# --- which announcements are due -----------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "phases"),
    [
        (AHEAD - timedelta(seconds=1), []),
        (AHEAD, [Phase.AHEAD]),
        (START - timedelta(seconds=1), [Phase.AHEAD]),
        (START, [Phase.STARTED]),
        (END - timedelta(seconds=1), [Phase.STARTED]),
        (END, [Phase.ENDED]),
        (END + timedelta(hours=23), [Phase.ENDED]),
        (END + timedelta(days=1), []),  # the daemon was down a day: nobody needs it now
    ],
)
def test_each_phase_is_due_from_its_moment_until_the_next(
    now: datetime, phases: list[Phase]
) -> None:
    found = due(make_config(), now)
    assert [d.phase for d in found] == phases
    assert all(d.route == "team" and d.occurrence.starts_at == START for d in found)


async def test_a_window_announced_0m_ahead_is_told_at_start_and_end_only(store_url: str) -> None:
    window = {
        "name": "upgrade",
        "start": START.isoformat(),
        "end": END.isoformat(),
        "announce_before": "0m",
    }
    with HttpReceiver() as receiver:
        config = make_config(receiver, window=window)
        async with store_at(store_url) as store:
            sender = announcer(store, config)
            assert (await sender.run_once(START - timedelta(seconds=1))).queued == []
            assert len((await sender.run_once(START)).delivered) == 1
            assert len((await sender.run_once(END)).delivered) == 1
    assert titles(receiver) == [
        "mailwatch: maintenance 'upgrade' started",
        "mailwatch: maintenance 'upgrade' ended",
    ]


def test_a_window_without_announce_before_is_not_announced() -> None:
    window = {"name": "quiet", "start": START.isoformat(), "end": END.isoformat()}
    assert due(make_config(window=window), START) == []


def test_a_recurring_window_is_announced_before_each_occurrence() -> None:
    window = {
        "name": "sunday-patch",
        "days": ["sun"],
        "from": "02:00",
        "to": "04:00",
        "timezone": "Europe/Berlin",
        "announce_before": "3d",
    }
    config = make_config(window=window)
    thursday = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)  # Sunday 13 Dec 02:00 CET is 01:00 UTC
    # Announced by ten days later: the next two Sundays (the third is announced on the 24th).
    found = occurrences(config, thursday, thursday + timedelta(days=10))
    assert [(o.starts_at, o.announce_at) for o in found] == [
        (datetime(2026, 12, 13, 1, 0, tzinfo=UTC), datetime(2026, 12, 10, 1, 0, tzinfo=UTC)),
        (datetime(2026, 12, 20, 1, 0, tzinfo=UTC), datetime(2026, 12, 17, 1, 0, tzinfo=UTC)),
    ]
    assert [d.phase for d in due(config, thursday)] == [Phase.AHEAD]


def test_routes_are_the_windows_own_or_those_whose_filters_take_the_checks() -> None:
    routes = {
        "team": {"urls": ["json://127.0.0.1:9/a"]},
        "mail-people": {"urls": ["json://127.0.0.1:9/b"], "tags": ["mail"]},
        "web-people": {"urls": ["json://127.0.0.1:9/c"], "tags": ["www"]},
        "pager": {"urls": ["json://127.0.0.1:9/d"], "notices": ["opened", "escalation"]},
    }
    config = make_config(routes=routes)
    assert routes_for(config.maintenance[0], config) == ("team", "mail-people")
    named = {
        "name": "upgrade",
        "checks": ["smtp-in"],
        "start": START.isoformat(),
        "end": END.isoformat(),
        "announce_before": "3d",
        "routes": ["pager"],
    }
    config = make_config(routes=routes, window=named)
    assert routes_for(config.maintenance[0], config) == ("pager",)


# --- delivery, once each -------------------------------------------------------------------


async def test_announced_ahead_at_start_and_at_end_once_each_across_a_restart(
    store_url: str,
) -> None:
    with HttpReceiver() as receiver:
        config = make_config(receiver)
        async with store_at(store_url) as store:
            first = announcer(store, config)
            assert (await first.run_once(AHEAD - timedelta(minutes=1))).queued == []
            report = await first.run_once(AHEAD)
            assert len(report.delivered) == 1
            assert titles(receiver) == [
                "mailwatch: maintenance 'upgrade' planned 2026-12-10 22:00 UTC"
            ]
            body = str(receiver.requests[0].json()["message"])
            assert "2026-12-10 22:00 UTC to 2026-12-11 00:00 UTC (2 h)" in body
            assert "Checks: smtp-in." in body
            assert (await first.run_once(AHEAD + timedelta(hours=1))).queued == []
        # A restart: a new store connection and a new announcer, the same database.
        async with store_at(store_url) as store:
            again = announcer(store, config)
            assert (await again.run_once(AHEAD + timedelta(hours=2))).delivered == []
            assert len((await again.run_once(START)).delivered) == 1
            assert (await again.run_once(START + timedelta(minutes=30))).delivered == []
            assert len((await again.run_once(END + timedelta(seconds=3))).delivered) == 1
            assert (await again.run_once(END + timedelta(minutes=5))).delivered == []
    assert titles(receiver) == [
        "mailwatch: maintenance 'upgrade' planned 2026-12-10 22:00 UTC",
        "mailwatch: maintenance 'upgrade' started",
        "mailwatch: maintenance 'upgrade' ended",
    ]


async def test_a_failed_announcement_is_retried_after_the_outbox_backoff(store_url: str) -> None:
    with HttpReceiver(statuses=[500]) as receiver:
        config = make_config(receiver)
        async with store_at(store_url) as store:
            sender = announcer(store, config)
            report = await sender.run_once(AHEAD)
            assert (len(report.failed), report.delivered) == (1, [])
            # retry_initial_s = 10, jitter pinned to 1: not before 10 s.
            assert (await sender.run_once(AHEAD + timedelta(seconds=9))).delivered == []
            report = await sender.run_once(AHEAD + timedelta(seconds=10))
            assert len(report.delivered) == 1
    assert len(receiver.requests) == 2
    assert titles(receiver)[0] == titles(receiver)[1]


async def test_an_announcement_still_failing_when_the_window_starts_is_dropped(
    store_url: str,
) -> None:
    with HttpReceiver(statuses=[500] * 100) as receiver:
        config = make_config(receiver, retry_max_s=3600)
        async with store_at(store_url) as store:
            sender = announcer(store, config)
            assert len((await sender.run_once(AHEAD)).failed) == 1
            report = await sender.run_once(START)
            # The "ahead" row is cancelled as stale; the start notice is queued and tried.
            assert len(report.cancelled) == 1
            assert len(report.failed) == 1
            assert [(r.json()["title"]) for r in receiver.requests][-1].endswith("started")


async def test_an_attempt_interrupted_by_a_crash_is_made_again(store_url: str) -> None:
    with HttpReceiver() as receiver:
        config = make_config(receiver)
        async with store_at(store_url) as store:
            async with store.write() as conn:
                # What a daemon killed during delivery leaves: a row claimed, never settled.
                key = AnnouncementKey("upgrade", START, Phase.AHEAD, "team")
                await add_missing(conn, [AnnouncementRow(key, END, {"checks": ["smtp-in"]})], AHEAD)
                await conn.execute(update(announcements).values(status=OutboxStatus.SENDING))
            sender = announcer(store, config)
            assert (await sender.run_once(AHEAD + timedelta(minutes=1))).delivered == []
            async with store.write() as conn:
                assert await requeue_interrupted(conn, AHEAD + timedelta(minutes=1)) == 1
            assert len((await sender.run_once(AHEAD + timedelta(minutes=1))).delivered) == 1
    assert len(receiver.requests) == 1

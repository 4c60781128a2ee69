"""The outbox sender against real HTTP receivers on loopback (apprise ``json://``, no mocks):
exactly-once delivery with exact content, a receiver that is down and comes back, HTTP 500
then 404, fallback routes, giving up, recovery notices, grouping by root cause.

The sender's clock is driven with explicit instants (``run_once(now)``) so backoff and
deadlines take no wall-clock time; the jitter is pinned to 1."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.http_receiver import HttpReceiver
from helpers.outbox_support import (
    T0,
    ReturningReceiver,
    alert_config,
    fail,
    notification_events,
    open_store,
    recover,
    roundtrip,
    rows,
    seconds,
    sender,
    timeline_types,
    titles,
)
from helpers.tcp_responders import free_port
from mailwatch.alerts.backoff import retry_delay_s
from mailwatch.incidents.actions import acknowledge_ticket
from mailwatch.store.outbox import change_status, oldest_backlog_at, outbox_backlog

OPENED_TITLE = "[MW-000001] SEV1 canary: not_delivered"
OPENED_MESSAGE = (
    "SEV1 ticket MW-000001 opened: canary is failing.\n"
    "\n"
    "Stage: not_delivered\n"
    "Summary: canary is critical\n"
    "Failing since: 2026-11-23 10:00 EST (2 s ago)\n"
    "Response due: 2026-11-23 11:00 EST (59 min left)\n"
    "Resolution due: 2026-11-23 15:00 EST (4 h 59 min left)\n"
    "Acknowledge: mailwatch ack MW-000001\n"
    "Runbook: https://wiki.example.org/canary"
)


async def test_an_opening_is_delivered_once_with_its_exact_content(store_url: str) -> None:
    with HttpReceiver() as receiver:
        cfg = alert_config(
            {"team": {"urls": [receiver.url("/team")]}},
            checks=[roundtrip("canary", runbook="https://wiki.example.org/canary")],
        )
        async with open_store(store_url) as store:
            opened = await fail(store, cfg, T0)
            assert len(opened.outbox_ids) == 1
            out = sender(store, cfg)
            report = await out.run_once(T0 + seconds(2))
            assert report.delivered == opened.outbox_ids
            for later in (seconds(3), seconds(60), seconds(86400)):
                assert (await out.run_once(T0 + later)).handled == 0
            [request] = receiver.requests
            assert request.path == "/team"
            assert request.json() == {
                "version": "1.0",
                "title": OPENED_TITLE,
                "message": OPENED_MESSAGE,
                "attachments": [],
                "type": "failure",
                "idempotency_key": str(opened.outbox_ids[0]),
            }
            assert request.headers["Idempotency-Key"] == str(opened.outbox_ids[0])
            [row] = await rows(store)
            assert (row.status, row.attempts, row.delivered_at, row.last_error) == (
                "delivered",
                1,
                T0 + seconds(2),
                None,
            )
            assert await notification_events(store) == [
                {
                    "type": "notification_sent",
                    "outbox_id": 1,
                    "route": "team",
                    "notice": "opened",
                    "attempt": 1,
                    "step": 1,
                    "repeat": 0,
                    "urls": [{"url": receiver.url("/team"), "ok": True, "error": None}],
                    "summary": "opened notice delivered through route team (1 of 1 URL(s) took it)",
                }
            ]
            async with store.read() as conn:
                assert await outbox_backlog(conn) == 0


async def test_a_receiver_down_for_a_while_gets_the_alert_exactly_once(store_url: str) -> None:
    port = free_port()
    receiver = ReturningReceiver(port)
    cfg = alert_config(
        {"team": {"urls": [receiver.url("/team")]}},
        outbox={"retry_initial_s": 10, "retry_max_s": 600},
    )
    async with open_store(store_url) as store:
        await fail(store, cfg, T0)
        out = sender(store, cfg)
        assert (await out.run_once(T0)).failed == [1]
        [row] = await rows(store)
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 1, T0 + seconds(10))
        assert row.last_error is not None and f"127.0.0.1:{port}" in row.last_error
        assert (await out.run_once(T0 + seconds(9))).handled == 0  # backoff: not yet
        assert (await out.run_once(T0 + seconds(10))).failed == [1]
        [row] = await rows(store)
        assert (row.attempts, row.next_attempt_at) == (2, T0 + seconds(30))  # 10 s, then 20 s
        with receiver:
            assert (await out.run_once(T0 + seconds(30))).delivered == [1]
            for later in (31, 90, 3600):
                await out.run_once(T0 + seconds(later))
            assert titles(receiver.requests) == [OPENED_TITLE]
        [row] = await rows(store)
        assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
        events = await notification_events(store)
        assert [(e["type"], e["attempt"]) for e in events] == [
            ("notification_failed", 1),
            ("notification_failed", 2),
            ("notification_sent", 3),
        ]
        assert events[0]["next_attempt_at"] == (T0 + seconds(10)).isoformat()


async def test_http_500_then_404_are_retried_until_delivered(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailwatch")
    with HttpReceiver(statuses=[500, 404]) as receiver:
        cfg = alert_config({"team": {"urls": [receiver.url("/team")]}})
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            assert (await out.run_once(T0)).failed == [1]
            assert (await out.run_once(T0 + seconds(10))).failed == [1]
            assert (await out.run_once(T0 + seconds(30))).delivered == [1]
            await out.run_once(T0 + seconds(3600))
            assert len(receiver.requests) == 3
            assert titles(receiver.requests) == [OPENED_TITLE] * 3  # the same notice each time
            events = await notification_events(store)
    failures = [e for e in events if e["type"] == "notification_failed"]
    assert ["error=500" in str(e["urls"][0]["error"]) for e in failures] == [True, False]
    assert ["error=404" in str(e["urls"][0]["error"]) for e in failures] == [False, True]
    assert events[-1]["type"] == "notification_sent"
    # One log line per attempt, for the journal.
    lines = [r.getMessage() for r in caplog.records if r.name == "mailwatch.alerts.sender"]
    assert lines[0].startswith("MW-000001: opened notice to route team failed (attempt 1): ")
    assert lines[-1] == "MW-000001: opened notice delivered to route team (attempt 3)"


async def test_a_dead_primary_falls_back_once_then_gives_up(store_url: str) -> None:
    dead = f"json://127.0.0.1:{free_port()}/pager"
    with HttpReceiver() as backup:
        cfg = alert_config(
            {
                "pager": {"urls": [dead], "fallback": "backup"},
                "backup": {"urls": [backup.url("/backup")], "checks": ["nothing-matches"]},
            },
            checks=[roundtrip("canary"), roundtrip("nothing-matches")],
            outbox={"fallback_after_attempts": 2, "give_up_after_s": 300},
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            assert [(r.route, r.status) for r in await rows(store)] == [("pager", "pending")]
            out = sender(store, cfg)
            assert (await out.run_once(T0)).failed == [1]
            second = await out.run_once(T0 + seconds(10))
            assert (second.failed, second.fallbacks) == ([1], [2])
            assert (await out.run_once(T0 + seconds(10))).delivered == [2]
            # The primary keeps trying (10, 20, 40, 80, 160 s) and gives up after 300 s.
            instants = [30, 70, 150, 310]
            reports = [await out.run_once(T0 + seconds(s)) for s in instants]
            assert [r.failed for r in reports] == [[1], [1], [1], []]
            assert reports[-1].dead == [1]
            assert all(not r.fallbacks for r in reports)
            assert (await out.run_once(T0 + seconds(7200))).handled == 0
            assert titles(backup.requests) == [OPENED_TITLE]
            assert [(r.route, r.status) for r in await rows(store)] == [
                ("pager", "dead"),
                ("backup", "delivered"),
            ]
            events = await notification_events(store)
    assert [e["type"] for e in events] == [
        "notification_failed",
        "notification_failed",
        "notification_fallback",
        "notification_sent",
        "notification_failed",
        "notification_failed",
        "notification_failed",
        "notification_given_up",
    ]
    fallback = events[2]
    assert (fallback["route"], fallback["fallback_route"], fallback["fallback_outbox_id"]) == (
        "pager",
        "backup",
        2,
    )
    assert events[3]["route"] == "backup" and events[3]["fallback_of"] == 1


async def test_recovery_goes_to_every_route_that_was_told(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}, "oncall": {"urls": [oncall.url("/o")]}},
            escalation={
                "sev1": {
                    "steps": [
                        {"after": "0m", "routes": ["team"]},
                        {"after": "15m", "routes": ["oncall"]},
                    ]
                }
            },
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await out.run_once(T0 + seconds(1))
            resolved = await recover(store, cfg, T0 + seconds(300))
            assert len(resolved.outbox_ids) == 1
            await out.run_once(T0 + seconds(302))
            for minutes in (15, 30, 60):
                await out.run_once(T0 + seconds(60 * minutes))
            assert titles(team.requests) == [OPENED_TITLE, "[MW-000001] SEV1 canary: recovered"]
            assert team.requests[1].json()["type"] == "success"
            assert oncall.requests == []  # its step was cancelled; it never heard of the ticket
            assert [(r.route, r.kind, r.status) for r in await rows(store)] == [
                ("team", "opened", "delivered"),
                ("oncall", "escalation", "cancelled"),
                ("team", "recovery", "delivered"),
            ]


async def test_a_recovery_waits_for_the_opening_still_being_retried(store_url: str) -> None:
    with HttpReceiver(statuses=[503]) as team:
        cfg = alert_config({"team": {"urls": [team.url("/t")]}})
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            assert (await out.run_once(T0)).failed == [1]
            await recover(store, cfg, T0 + seconds(2))
            early = await out.run_once(T0 + seconds(4))
            assert early.deferred == [2]  # the opening's retry at +10 s goes first
            assert (await out.run_once(T0 + seconds(10))).delivered == [1]
            assert (await out.run_once(T0 + seconds(11))).delivered == [2]
            assert titles(team.requests) == [
                OPENED_TITLE,
                OPENED_TITLE,
                "[MW-000001] SEV1 canary: recovered",
            ]


async def test_a_ticket_resolved_before_anyone_was_told_stays_silent(store_url: str) -> None:
    with HttpReceiver() as team:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}},
            checks=[roundtrip("imap-main"), roundtrip("canary", depends_on=["imap-main"])],
            outbox={"group_wait_s": 30},
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)  # waits group_wait_s for related tickets
            await recover(store, cfg, T0 + seconds(10))
            out = sender(store, cfg)
            for s in (30, 60, 3600):
                await out.run_once(T0 + seconds(s))
            assert team.requests == []
            assert [(r.kind, r.status) for r in await rows(store)] == [("opened", "cancelled")]


async def test_tickets_sharing_a_root_cause_go_out_as_one_message(store_url: str) -> None:
    with HttpReceiver() as team:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}},
            checks=[
                roundtrip("imap-main"),
                roundtrip("canary-a", depends_on=["imap-main"]),
                roundtrip("canary-b", depends_on=["imap-main"]),
                roundtrip("alone"),
            ],
            outbox={"group_wait_s": 30},
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0, "canary-a")
            await fail(store, cfg, T0 + seconds(5), "canary-b")
            await fail(store, cfg, T0 + seconds(6), "alone")
            out = sender(store, cfg)
            alone = await out.run_once(T0 + seconds(6))
            assert alone.delivered == [3]  # no relatives: no reason to wait
            assert (await out.run_once(T0 + seconds(29))).handled == 0
            grouped = await out.run_once(T0 + seconds(30))
            assert sorted(grouped.delivered) == [1, 2]
            await out.run_once(T0 + seconds(35))
            assert titles(team.requests) == [
                "[MW-000003] SEV1 alone: not_delivered",
                "[MW-000001] SEV1 canary-a: not_delivered (+1 related ticket)",
            ]
            message = team.requests[1].json()["message"]
            assert "SEV1 ticket MW-000001 opened: canary-a is failing." in message
            assert "SEV1 ticket MW-000002 opened: canary-b is failing." in message
            events = await notification_events(store, 2)
            assert [(e["type"], e["grouped_with"]) for e in events] == [("notification_sent", 1)]


async def test_attempts_and_outcomes_are_on_the_timeline_and_replay_ignores_them(
    store_url: str,
) -> None:
    from helpers.builders import assert_consistent

    with HttpReceiver(statuses=[500]) as team:
        cfg = alert_config({"team": {"urls": [team.url("/t")]}})
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await out.run_once(T0)
            await out.run_once(T0 + seconds(10))
            await acknowledge_ticket(store, cfg, 1, "ana", None, T0 + seconds(20))
            assert await timeline_types(store) == [
                "ticket_opened",
                "notification_failed",
                "notification_sent",
                "acknowledged",
            ]
            await assert_consistent(store)


@pytest.mark.parametrize(
    ("attempts", "jitter", "expected"),
    [
        (1, 1.0, 10.0),
        (2, 1.0, 20.0),
        (3, 1.0, 40.0),
        (6, 1.0, 320.0),
        (7, 1.0, 600.0),  # capped
        (1, 0.5, 5.0),
        (1, 1.5, 15.0),
        (7, 1.5, 600.0),  # the cap holds after jitter
        (500, 1.0, 600.0),  # no overflow
    ],
)
def test_retry_delay(attempts: int, jitter: float, expected: float) -> None:
    assert retry_delay_s(attempts, 10.0, 600.0, jitter) == expected


@given(
    attempts=st.integers(1, 60),
    jitter=st.floats(0.5, 1.5),
    initial=st.floats(0.1, 100),
    cap=st.floats(100, 10_000),
)
def test_retry_delay_grows_and_stays_within_bounds(
    attempts: int, jitter: float, initial: float, cap: float
) -> None:
    delay = retry_delay_s(attempts, initial, cap, jitter)
    assert 0.5 * initial <= delay <= cap
    assert retry_delay_s(attempts + 1, initial, cap, jitter) >= delay


def test_retry_delay_counts_attempts_from_one() -> None:
    with pytest.raises(ValueError, match="attempts counts from 1"):
        retry_delay_s(0, 10, 600)


async def test_a_row_for_a_route_gone_from_the_config_is_retried_then_given_up(
    store_url: str,
) -> None:
    with HttpReceiver() as team:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}, "gone": {"urls": [team.url("/g")]}},
            outbox={"give_up_after_s": 60},
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            reloaded = alert_config(
                {"team": {"urls": [team.url("/t")]}}, outbox={"give_up_after_s": 60}
            )
            out = sender(store, reloaded)
            first = await out.run_once(T0)
            assert (first.delivered, first.failed) == ([1], [2])
            [_, gone] = await rows(store)
            assert (gone.status, gone.last_error) == (
                "failed",
                "gone: route 'gone' is not configured",
            )
            async with store.read() as conn:
                assert await oldest_backlog_at(conn) == T0  # the dead man's switch sees it
            for s in (10, 30, 70):
                await out.run_once(T0 + seconds(s))
            assert [r.status for r in await rows(store)] == ["delivered", "dead"]
            assert [r.path for r in team.requests] == ["/t"]


async def test_a_later_step_counts_as_waiting_from_when_it_came_due(store_url: str) -> None:
    dead = f"json://127.0.0.1:{free_port()}/oncall"
    cfg = alert_config(
        {"oncall": {"urls": [dead]}},
        escalation={"sev1": {"steps": [{"after": "0m"}, {"after": "1h"}]}},
    )
    async with open_store(store_url) as store:
        await fail(store, cfg, T0)
        out = sender(store, cfg)
        await out.run_once(T0)
        async with store.write() as conn:
            await change_status(conn, 1, "failed", "cancelled")  # out of the way
            assert await oldest_backlog_at(conn) is None  # the step is only scheduled
        await out.run_once(T0 + seconds(3600))
        async with store.read() as conn:
            assert await oldest_backlog_at(conn) == T0 + seconds(3600)

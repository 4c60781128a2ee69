"""A notice whose attempt was cut off is sent again at most ``[outbox]
max_interrupted_resends`` times; after that its timeline says "delivery uncertain" and it is
never sent again, across any number of restarts.

The state a killed sender leaves (a row in ``sending``) is set up here directly, on a real
SQLite file and a real HTTP receiver; ``test_sender_kills.py`` produces it for real with
SIGKILL.
"""

from __future__ import annotations

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
)
from mailwatch.store.outbox import Interrupted, change_status
from mailwatch.store.store import Store


async def cut_off(store: Store, row_id: int, *, handed_over: bool = True) -> None:
    """What a sender killed mid-attempt leaves: the row claimed, handed to apprise (or not
    yet), its outcome never settled."""
    async with store.write() as conn:
        assert await change_status(
            conn,
            row_id,
            ("pending", "failed"),
            "sending",
            attempt_started_at=T0 if handed_over else None,
        )


async def test_an_interrupted_notice_is_sent_again_once_then_recorded_uncertain(
    store_url: str,
) -> None:
    with HttpReceiver() as team:
        cfg = alert_config({"team": {"urls": [team.url("/t")]}})
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            await cut_off(store, 1)  # the first attempt, cut off

            restarted = sender(store, cfg)
            assert await restarted.recover(T0 + seconds(5)) == Interrupted(resent=[1])
            [row] = await rows(store)
            assert (row.status, row.attempts, row.interrupted_resends) == ("failed", 1, 1)
            await cut_off(store, 1)  # the resend, cut off too

            again = sender(store, cfg)
            assert await again.recover(T0 + seconds(9)) == Interrupted(uncertain=[1])
            for later in (seconds(10), seconds(600), seconds(86400)):
                assert (await again.run_once(T0 + later)).handled == 0
            assert await sender(store, cfg).recover(T0 + seconds(9)) == Interrupted()
            [row] = await rows(store)
            events = await notification_events(store)
    assert team.requests == []  # neither cut-off attempt reached it; nothing is sent a third time
    assert (row.status, row.attempts, row.interrupted_resends) == ("uncertain", 2, 1)
    assert [(e["type"], e["attempt"], e["outbox_id"]) for e in events] == [
        ("notification_failed", 1, 1),
        ("notification_uncertain", 2, 1),
    ]
    assert events[0]["summary"] == (
        "opened notice through route team: attempt 1 failed "
        "(interrupted: mailwatch stopped during this attempt)"
    )
    assert events[1]["summary"] == (
        "opened notice through route team: delivery uncertain (attempt 2 cut off by a stop, "
        "already sent again 1 time(s) after an interruption); not sent again"
    )


async def test_with_no_resends_allowed_the_first_interruption_is_uncertain(
    store_url: str,
) -> None:
    with HttpReceiver() as team:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}}, outbox={"max_interrupted_resends": 0}
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            await cut_off(store, 1)
            out = sender(store, cfg)
            assert await out.recover(T0 + seconds(5)) == Interrupted(uncertain=[1])
            assert (await out.run_once(T0 + seconds(6))).handled == 0
            [row] = await rows(store)
    assert team.requests == []
    assert (row.status, row.attempts, row.interrupted_resends) == ("uncertain", 1, 0)


async def test_a_resend_that_gets_through_is_delivered_and_counted(store_url: str) -> None:
    with HttpReceiver() as team:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}}, outbox={"max_interrupted_resends": 3}
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            for n in range(1, 4):
                await cut_off(store, 1)
                assert await out.recover(T0 + seconds(n)) == Interrupted(resent=[1])
            assert (await out.run_once(T0 + seconds(5))).delivered == [1]
            [row] = await rows(store)
    assert len(team.requests) == 1
    assert (row.status, row.attempts, row.interrupted_resends) == ("delivered", 4, 3)


async def test_a_route_whose_notice_is_uncertain_still_hears_of_the_recovery(
    store_url: str,
) -> None:
    """It may have the opening: it should not be left believing the outage goes on."""
    with HttpReceiver() as team:
        cfg = alert_config(
            {"team": {"urls": [team.url("/t")]}}, outbox={"max_interrupted_resends": 0}
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            await cut_off(store, 1)
            out = sender(store, cfg)
            assert await out.recover(T0 + seconds(5)) == Interrupted(uncertain=[1])
            resolved = await recover(store, cfg, T0 + seconds(60))
            assert resolved.outbox_ids == [2]
            assert (await out.run_once(T0 + seconds(62))).delivered == [2]
    [request] = team.requests
    assert request.json()["title"] == "[MW-000001] SEV1 canary: recovered"


async def test_a_notice_claimed_but_not_yet_sent_is_due_again_uncounted(store_url: str) -> None:
    """Killed between the claim and the hand-over to apprise: nobody can have it, so it
    uses up no resend, however often that happens."""
    with HttpReceiver() as team:
        cfg = alert_config({"team": {"urls": [team.url("/t")]}})
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            for n in range(1, 4):
                await cut_off(store, 1, handed_over=False)
                assert await out.recover(T0 + seconds(n)) == Interrupted(unsent=[1])
            [row] = await rows(store)
            assert (row.status, row.attempts, row.interrupted_resends) == ("pending", 0, 0)
            assert (await out.run_once(T0 + seconds(5))).delivered == [1]
            [row] = await rows(store)
            events = await notification_events(store)
    assert len(team.requests) == 1
    assert (row.status, row.attempts, row.interrupted_resends) == ("delivered", 1, 0)
    assert [e["type"] for e in events] == ["notification_sent"]

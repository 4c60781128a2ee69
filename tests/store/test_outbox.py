"""Pruning the outbox: finished rows (delivered, dead, cancelled) of tickets resolved longer
ago than the retention go; rows still to be sent, rows of open tickets and recent rows stay.

Tickets and rows are made by the real processor and planner; the sender's outcomes are set
with the same compare-and-set it uses (``change_status``), so no receiver is needed here
(``tests/alerts/test_outbox_pruning.py`` runs the sender against one)."""

from __future__ import annotations

from datetime import datetime, timedelta

from helpers.outbox_support import T0, alert_config, fail, open_store, recover, rows
from mailwatch.config.model import MailwatchConfig
from mailwatch.store.outbox import change_status, prune_finished
from mailwatch.store.store import Store
from mailwatch.store.tickets import load_timeline

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def two_step_config() -> MailwatchConfig:
    """One route, no SLA plan; every ticket's ladder has a second step two days on, which
    resolving cancels (so resolved tickets have cancelled rows too)."""
    return alert_config(
        {"team": {"urls": ["json://127.0.0.1:9/team"]}},
        plan=False,
        escalation={"default": {"steps": [{"after": "0m"}, {"after": "2d"}]}},
    )


async def settle(store: Store, row_id: int, status: str, at: datetime) -> None:
    """What the sender records for a pending row: delivered at ``at``, or given up after a
    last attempt at ``at``."""
    values: dict[str, object] = {"delivered_at": at}
    if status == "dead":
        values = {"next_attempt_at": at, "last_error": "HTTP 500"}
    async with store.write() as conn:
        assert await change_status(conn, row_id, "pending", status, attempts=1, **values)


async def prune(store: Store, now: datetime, retention: timedelta) -> int:
    async with store.write() as conn:
        return await prune_finished(conn, now, retention)


async def timeline_ids(store: Store, *tickets: int) -> list[int]:
    async with store.read() as conn:
        return [item.id for number in tickets for item in await load_timeline(conn, number)]


async def remaining(store: Store) -> list[tuple[int | None, str, str]]:
    return [(row.ticket, row.kind, row.status) for row in await rows(store)]


async def test_only_finished_rows_of_tickets_resolved_before_the_retention_go(
    store_url: str,
) -> None:
    cfg = two_step_config()
    async with open_store(store_url) as store:
        # 1: told, resolved, told of the recovery.
        opened, _step2 = (await fail(store, cfg, T0, "canary")).outbox_ids
        await settle(store, opened, "delivered", T0)
        [recovery] = (await recover(store, cfg, T0 + HOUR, "canary")).outbox_ids
        await settle(store, recovery, "delivered", T0 + HOUR)
        # 2: never reached anyone (given up), resolved: no recovery notice.
        opened, _step2 = (await fail(store, cfg, T0, "imap")).outbox_ids
        await settle(store, opened, "dead", T0)
        assert (await recover(store, cfg, T0 + HOUR, "imap")).outbox_ids == []
        # 3: resolved, but its recovery notice is still waiting to go out.
        opened, _step2 = (await fail(store, cfg, T0, "smtp")).outbox_ids
        await settle(store, opened, "delivered", T0)
        await recover(store, cfg, T0 + HOUR, "smtp")
        # 4: still open: its rows say who must hear the recovery.
        opened, _step2 = (await fail(store, cfg, T0, "dns")).outbox_ids
        await settle(store, opened, "delivered", T0)
        # 5: resolved within the retention.
        opened, _step2 = (await fail(store, cfg, T0 + 20 * DAY, "tls")).outbox_ids
        await settle(store, opened, "delivered", T0 + 20 * DAY)
        [recovery] = (await recover(store, cfg, T0 + 20 * DAY + HOUR, "tls")).outbox_ids
        await settle(store, recovery, "delivered", T0 + 20 * DAY + HOUR)
        # 6: resolved long ago, but its recovery notice was given up only recently.
        opened, _step2 = (await fail(store, cfg, T0, "mx")).outbox_ids
        await settle(store, opened, "delivered", T0)
        [recovery] = (await recover(store, cfg, T0 + HOUR, "mx")).outbox_ids
        await settle(store, recovery, "dead", T0 + 15 * DAY)
        before = await remaining(store)
        timelines = await timeline_ids(store, 1, 2)

        assert await prune(store, T0 + 40 * DAY, 30 * DAY) == 7

        assert await remaining(store) == [
            (3, "opened", "delivered"),
            (3, "escalation", "cancelled"),
            (3, "recovery", "pending"),
            (4, "opened", "delivered"),
            (4, "escalation", "scheduled"),
            (5, "opened", "delivered"),
            (5, "escalation", "cancelled"),
            (5, "recovery", "delivered"),
            (6, "recovery", "dead"),
        ]
        assert [row for row in before if row[0] in (1, 2)] == [
            (1, "opened", "delivered"),
            (1, "escalation", "cancelled"),
            (1, "recovery", "delivered"),
            (2, "opened", "dead"),
            (2, "escalation", "cancelled"),
        ]
        # The timelines are the tickets' history: they stay whole.
        assert await timeline_ids(store, 1, 2) == timelines
        # Nothing left to prune: a second pass deletes nothing.
        assert await prune(store, T0 + 40 * DAY, 30 * DAY) == 0


async def test_rows_stay_for_the_whole_retention_after_the_ticket_resolved(
    store_url: str,
) -> None:
    cfg = two_step_config()
    async with open_store(store_url) as store:
        opened, _step2 = (await fail(store, cfg, T0)).outbox_ids
        await settle(store, opened, "delivered", T0)
        resolved_at = T0 + 3 * DAY + timedelta(seconds=1)  # ``recover`` resolves 1 s on
        [recovery] = (await recover(store, cfg, T0 + 3 * DAY)).outbox_ids
        await settle(store, recovery, "delivered", resolved_at)
        assert len(await rows(store)) == 3

        assert await prune(store, resolved_at + 7 * DAY, 7 * DAY) == 0
        assert len(await rows(store)) == 3
        assert await prune(store, resolved_at + 7 * DAY + timedelta(seconds=1), 7 * DAY) == 3
        assert await rows(store) == []


async def test_an_open_tickets_old_rows_and_pending_rows_are_never_pruned(
    store_url: str,
) -> None:
    cfg = two_step_config()
    async with open_store(store_url) as store:
        await fail(store, cfg, T0)  # opened notice pending, escalation scheduled
        opened, _step2 = (await fail(store, cfg, T0, "imap")).outbox_ids
        await settle(store, opened, "delivered", T0)
        before = await remaining(store)
        assert await prune(store, T0 + 3650 * DAY, DAY) == 0
        assert (
            await remaining(store)
            == before
            == [
                (1, "opened", "pending"),
                (1, "escalation", "scheduled"),
                (2, "opened", "delivered"),
                (2, "escalation", "scheduled"),
            ]
        )

"""Outbox upkeep: rows a dead process left in ``sending`` are sent again, a bounded number of
times (``recover``), and finished rows of tickets resolved long ago are deleted (``prune``);
beside them, on the same hourly pass, history older than its keeping (``prune_history``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from mailwatch.alerts.attempt import attempt_event
from mailwatch.domain.tickets import format_number
from mailwatch.domain.timeline import EventType
from mailwatch.store.history import history_checks, prune_check_history
from mailwatch.store.outbox import (
    INTERRUPTED,
    Interrupted,
    load_entry,
    prune_finished,
    settle_interrupted,
)
from mailwatch.store.retry import retrying
from mailwatch.store.store import Store
from mailwatch.store.tickets import insert_events, load_ticket

log = logging.getLogger("mailwatch.alerts.sender")


async def recover(
    store: Store, now: datetime, max_resends: int, prefix: str, node: str | None = None
) -> Interrupted:
    """Rows a dead process left in ``sending``: due again now, each with a
    ``notification_failed`` event naming the interrupted attempt, while it has been resent
    for an interruption fewer than ``max_resends`` times; ``uncertain`` after that, with a
    ``notification_uncertain`` event, and never sent again. A row marked ``delivered`` is
    never sent again either."""

    async def transaction() -> Interrupted:
        async with store.write() as conn:
            found = await settle_interrupted(conn, now, max_resends, node)
            for row_id in [*found.resent, *found.uncertain]:
                entry = await load_entry(conn, row_id)
                ticket = await load_ticket(conn, entry.ticket) if entry and entry.ticket else None
                if entry is None or ticket is None:
                    continue
                # The attempt was counted when it was settled; the event names that attempt.
                counted = replace(entry, attempts=entry.attempts - 1)
                if row_id in found.uncertain:
                    log.warning(
                        "%s: %s notice to route %s: delivery uncertain (attempt %d cut off, "
                        "already sent again %d time(s) after an interruption); not sent again",
                        format_number(ticket.number, prefix),
                        entry.kind,
                        entry.route,
                        entry.attempts,
                        entry.interrupted_resends,
                    )
                    event = attempt_event(
                        EventType.NOTIFICATION_UNCERTAIN,
                        ticket,
                        counted,
                        now,
                        interrupted_resends=entry.interrupted_resends,
                    )
                else:
                    event = attempt_event(
                        EventType.NOTIFICATION_FAILED,
                        ticket,
                        counted,
                        now,
                        error=INTERRUPTED,
                        interrupted_resends=entry.interrupted_resends,
                    )
                await insert_events(conn, [event])
            return found

    return await retrying("outbox: recovering interrupted notices", transaction)


async def prune(store: Store, now: datetime, retention_days: int) -> int:
    """Delete finished rows of tickets resolved more than ``retention_days`` ago
    (``prune_finished`` says which); how many went."""

    async def transaction() -> int:
        async with store.write() as conn:
            return await prune_finished(conn, now, timedelta(days=retention_days))

    removed = await retrying("outbox: deleting finished notices", transaction)
    if removed:
        log.info(
            "outbox: deleted %d finished notification(s) of tickets resolved more than "
            "%d day(s) ago",
            removed,
            retention_days,
        )
    return removed


async def prune_history(store: Store, now: datetime, history_days: int) -> int:
    """Delete history buckets older than their keeping (``[store] history_days`` for hourly
    ones, 35 days for 5-minute ones), one check per transaction so the processor never waits
    long for the write lock; how many rows went."""
    async with store.read() as conn:
        checks = await history_checks(conn)
    removed = 0
    for check in checks:

        async def transaction(check: str = check) -> int:
            async with store.write() as conn:
                return await prune_check_history(conn, check, now, history_days)

        removed += await retrying(f"history of {check}: deleting old buckets", transaction)
    if removed:
        log.info("history: deleted %d bucket(s) past their keeping", removed)
    return removed

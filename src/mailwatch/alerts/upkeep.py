"""Outbox upkeep: rows a dead process left in ``sending`` are sent again (``recover``), and
finished rows of tickets resolved long ago are deleted (``prune``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from mailwatch.alerts.attempt import attempt_event
from mailwatch.domain.timeline import EventType
from mailwatch.store.outbox import INTERRUPTED, load_entry, prune_finished, requeue_interrupted
from mailwatch.store.store import Store
from mailwatch.store.tickets import insert_events, load_ticket

log = logging.getLogger("mailwatch.alerts.sender")


async def recover(store: Store, now: datetime) -> list[int]:
    """Rows a dead process left in ``sending``: due again now, each with a
    ``notification_failed`` event naming the interrupted attempt. A row marked ``delivered``
    is never sent again."""
    async with store.write() as conn:
        ids = await requeue_interrupted(conn, now)
        for row_id in ids:
            entry = await load_entry(conn, row_id)
            ticket = await load_ticket(conn, entry.ticket) if entry and entry.ticket else None
            if entry is None or ticket is None:
                continue
            # The attempt was counted when it was requeued; the event names that attempt.
            counted = replace(entry, attempts=entry.attempts - 1)
            event = attempt_event(
                EventType.NOTIFICATION_FAILED, ticket, counted, now, error=INTERRUPTED
            )
            await insert_events(conn, [event])
        return ids


async def prune(store: Store, now: datetime, retention_days: int) -> int:
    """Delete finished rows of tickets resolved more than ``retention_days`` ago
    (``prune_finished`` says which); how many went."""
    async with store.write() as conn:
        removed = await prune_finished(conn, now, timedelta(days=retention_days))
    if removed:
        log.info(
            "outbox: deleted %d finished notification(s) of tickets resolved more than "
            "%d day(s) ago",
            removed,
            retention_days,
        )
    return removed

"""The notification outbox: rows the alerts sender claims and delivers (a later issue)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.store.schema import outbox


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One notification to send over one route, caused by one timeline event."""

    event_id: int
    ticket: int | None
    route: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    next_attempt_at: datetime | None = None


async def insert_outbox(
    conn: AsyncConnection, rows: Sequence[OutboxRow], now: datetime
) -> list[int]:
    """Queue rows as ``pending``; due now unless they say otherwise."""
    ids = []
    for row in rows:
        inserted = await conn.execute(
            insert(outbox)
            .values(
                ticket=row.ticket,
                event=row.event_id,
                route=row.route,
                kind=row.kind,
                payload=dict(row.payload),
                status="pending",
                attempts=0,
                next_attempt_at=row.next_attempt_at or now,
                created_at=now,
            )
            .returning(outbox.c.id)
        )
        ids.append(int(inserted.scalar_one()))
    return ids


BACKLOG_STATUSES = ("pending", "sending", "failed")
"""Rows that still have to reach someone: not yet tried, being sent, or waiting to retry."""


async def outbox_backlog(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.status.in_(BACKLOG_STATUSES))
    return int((await conn.execute(query)).scalar_one())


async def oldest_backlog_at(conn: AsyncConnection) -> datetime | None:
    """When the oldest notification still waiting was queued (None: nothing waits)."""
    query = select(func.min(outbox.c.created_at)).where(outbox.c.status.in_(BACKLOG_STATUSES))
    value: datetime | None = (await conn.execute(query)).scalar_one()
    return value

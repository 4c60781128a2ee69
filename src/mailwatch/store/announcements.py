"""Maintenance announcements as stored: one row per window occurrence, phase and route.

The unique key (window, start, phase, route) makes each announcement once: ``add_missing``
inserts only what is not there yet, so a restart that plans the same announcement again adds
nothing. Status changes are compare-and-set, as in the outbox (``mailwatch.store.outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.notices import OutboxStatus
from mailwatch.store.schema import announcements

DUE = (OutboxStatus.PENDING, OutboxStatus.FAILED)
"""Rows the announcer picks up once ``next_attempt_at`` has come."""


@dataclass(frozen=True, slots=True)
class AnnouncementKey:
    """What makes an announcement one: this occurrence of this window, this phase, this route."""

    window: str
    starts_at: datetime
    phase: str
    route: str


@dataclass(frozen=True, slots=True)
class AnnouncementRow:
    """An announcement to queue: its key, the occurrence's end, and what the message says."""

    key: AnnouncementKey
    ends_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnnouncementEntry:
    """A stored announcement."""

    id: int
    key: AnnouncementKey
    ends_at: datetime
    payload: Mapping[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None


def _entry(row: Row[Any]) -> AnnouncementEntry:
    m = row._mapping
    return AnnouncementEntry(
        id=int(m["id"]),
        key=AnnouncementKey(m["window"], m["starts_at"], m["phase"], m["route"]),
        ends_at=m["ends_at"],
        payload=dict(m["payload"] or {}),
        status=OutboxStatus(m["status"]),
        attempts=int(m["attempts"]),
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        delivered_at=m["delivered_at"],
        last_error=m["last_error"],
    )


async def stored_keys(
    conn: AsyncConnection, keys: Sequence[AnnouncementKey]
) -> set[AnnouncementKey]:
    """Those of ``keys`` that have a row already, whatever its status."""
    if not keys:
        return set()
    c = announcements.c
    wanted = or_(
        *(
            and_(
                c.window == k.window,
                c.starts_at == k.starts_at,
                c.phase == k.phase,
                c.route == k.route,
            )
            for k in keys
        )
    )
    query = select(c.window, c.starts_at, c.phase, c.route).where(wanted)
    return {AnnouncementKey(*row) for row in (await conn.execute(query)).all()}


async def add_missing(
    conn: AsyncConnection, rows: Sequence[AnnouncementRow], now: datetime
) -> list[int]:
    """Queue (``pending``, due now) those of ``rows`` not stored yet; their ids."""
    have = await stored_keys(conn, [row.key for row in rows])
    ids = []
    for row in rows:
        if row.key in have:
            continue
        inserted = await conn.execute(
            insert(announcements)
            .values(
                window=row.key.window,
                starts_at=row.key.starts_at,
                ends_at=row.ends_at,
                phase=row.key.phase,
                route=row.key.route,
                payload=dict(row.payload),
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .returning(announcements.c.id)
        )
        ids.append(int(inserted.scalar_one()))
        have.add(row.key)
    return ids


async def due_entries(conn: AsyncConnection, now: datetime, limit: int) -> list[AnnouncementEntry]:
    """Rows whose time has come, oldest due first."""
    c = announcements.c
    query = (
        select(announcements)
        .where(c.status.in_(DUE), c.next_attempt_at <= now)
        .order_by(c.next_attempt_at, c.id)
        .limit(limit)
    )
    return [_entry(row) for row in (await conn.execute(query)).all()]


async def entries_since(conn: AsyncConnection, since: datetime) -> list[AnnouncementEntry]:
    """Every row of an occurrence ending after ``since``, in the order they were queued."""
    c = announcements.c
    query = select(announcements).where(c.ends_at > since).order_by(c.id)
    return [_entry(row) for row in (await conn.execute(query)).all()]


async def change_status(
    conn: AsyncConnection,
    row_id: int,
    expected: OutboxStatus | Sequence[OutboxStatus],
    status: OutboxStatus,
    **values: Any,
) -> bool:
    """Set ``status`` (and other columns) only if the row is still in ``expected``."""
    olds = [expected] if isinstance(expected, str) else list(expected)
    changed = await conn.execute(
        update(announcements)
        .where(announcements.c.id == row_id, announcements.c.status.in_(olds))
        .values(status=status, **values)
    )
    return bool(changed.rowcount == 1)


async def requeue_interrupted(conn: AsyncConnection, now: datetime) -> int:
    """Rows a dead process left in ``sending``: failed, due again now (the attempt counts)."""
    c = announcements.c
    changed = await conn.execute(
        update(announcements)
        .where(c.status == OutboxStatus.SENDING)
        .values(
            status=OutboxStatus.FAILED,
            attempts=c.attempts + 1,
            next_attempt_at=now,
            last_error="interrupted: mailwatch stopped during the attempt",
        )
    )
    return int(changed.rowcount or 0)

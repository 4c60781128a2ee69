"""Silences from ``mailwatch silence``: rows are ended, never deleted, so the record stays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.quiet import Silence
from mailwatch.store.schema import silences


def _silence(row: Row[Any]) -> Silence:
    m = row._mapping
    return Silence(
        id=int(m["id"]),
        check=m["check_name"],
        starts_at=m["starts_at"],
        until=m["until"],
        reason=m["reason"],
        created_by=m["created_by"],
        ended_at=m["ended_at"],
        ended_by=m["ended_by"],
    )


async def add_silence(
    conn: AsyncConnection, check: str, starts_at: datetime, until: datetime, reason: str, by: str
) -> Silence:
    inserted = await conn.execute(
        insert(silences)
        .values(check_name=check, starts_at=starts_at, until=until, reason=reason, created_by=by)
        .returning(silences.c.id)
    )
    return Silence(int(inserted.scalar_one()), check, starts_at, until, reason, by)


_ACTIVE = (
    select(silences)
    .where(
        silences.c.starts_at <= bindparam("now"),
        silences.c.until > bindparam("now"),
        or_(silences.c.ended_at.is_(None), silences.c.ended_at > bindparam("now")),
    )
    .order_by(silences.c.id)
)
"""Built once: the daemon asks for every result."""


async def active_silences(conn: AsyncConnection, now: datetime) -> list[Silence]:
    rows = await conn.execute(_ACTIVE, {"now": now})
    return [_silence(row) for row in rows.all()]


async def load_silence(conn: AsyncConnection, silence_id: int) -> Silence | None:
    """The silence with this id, active or not; None when there is none."""
    row = (await conn.execute(select(silences).where(silences.c.id == silence_id))).first()
    return None if row is None else _silence(row)


async def end_silences(conn: AsyncConnection, ids: list[int], now: datetime, by: str) -> None:
    if ids:
        await conn.execute(
            update(silences).where(silences.c.id.in_(ids)).values(ended_at=now, ended_by=by)
        )

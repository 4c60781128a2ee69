"""What a check remembers between runs, kept in the database so the next owner continues.

One JSON object per (check, site), written with the result that changed it, read when a node
starts running a check (at start-up, or when it takes the check over from another node).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.store.nodes import LeaseKey
from mailwatch.store.schema import check_memory


async def load_memory(conn: AsyncConnection, key: LeaseKey) -> dict[str, Any] | None:
    """The memory last stored for ``key``; None when it has none."""
    check, site = key
    found = await conn.execute(
        select(check_memory.c.memory).where(
            check_memory.c.check_name == check, check_memory.c.site == site
        )
    )
    value = found.scalar_one_or_none()
    return dict(value) if isinstance(value, dict) else None


async def save_memory(
    conn: AsyncConnection, key: LeaseKey, memory: Mapping[str, Any], writer: str, now: datetime
) -> None:
    """Replace ``key``'s memory (the caller is its lease owner, so no one else writes it)."""
    check, site = key
    values = {"memory": dict(memory), "written_by": writer, "updated_at": now}
    changed = await conn.execute(
        update(check_memory)
        .where(check_memory.c.check_name == check, check_memory.c.site == site)
        .values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(check_memory.insert().values(check_name=check, site=site, **values))

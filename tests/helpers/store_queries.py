"""Reads of the store that only tests make: the whole database at once, for consistency checks."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.tickets import Ticket
from mailwatch.store.store import Store
from mailwatch.store.tickets import list_tickets


async def integrity_problems(store: Store) -> list[str]:
    """``PRAGMA integrity_check`` lines other than ``ok`` (an empty list: intact).

    SQLite only: a PostgreSQL server checks its own pages, and there is no equivalent a
    non-superuser can run, so a PostgreSQL store has none to report.
    """
    if store.engine.dialect.name != "sqlite":
        return []
    async with store.read() as conn:
        rows = (await conn.execute(text("PRAGMA integrity_check"))).scalars().all()
    return [str(row) for row in rows if row != "ok"]


async def all_tickets(conn: AsyncConnection) -> list[Ticket]:
    """Every ticket, by number."""
    return list(reversed(await list_tickets(conn, include_resolved=True)))

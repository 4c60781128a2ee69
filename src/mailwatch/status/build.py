"""What a status snapshot needs from the store: open tickets, active silences and escalation
steps, read in the caller's transaction so that they agree with each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.status.model import StoredFacts
from mailwatch.store.outbox import escalation_steps
from mailwatch.store.silences import active_silences
from mailwatch.store.tickets import open_tickets


async def read_stored_facts(conn: AsyncConnection, now: datetime) -> StoredFacts:
    """The store's part of the snapshot at ``now``."""
    return StoredFacts(
        tickets=await open_tickets(conn),
        silences=await active_silences(conn, now),
        escalation_steps=await escalation_steps(conn),
    )

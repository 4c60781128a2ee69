"""One ticket in full, for its page: the ticket, its timeline and the notices sent about it,
read from the store in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from mailwatch.domain.tickets import Ticket
from mailwatch.store.outbox import OutboxEntry, ticket_entries
from mailwatch.store.store import Store
from mailwatch.store.tickets import StoredEvent, load_ticket, load_timeline


@dataclass(frozen=True, slots=True)
class TicketDetail:
    ticket: Ticket
    timeline: tuple[StoredEvent, ...]
    """Events in the order they were recorded."""
    notices: tuple[OutboxEntry, ...]
    """Outbox rows of this ticket still kept (finished rows are pruned after their retention)."""


async def read_ticket_detail(store: Store, number: int) -> TicketDetail | None:
    """The ticket numbered ``number`` with its timeline and notices; None when there is none."""
    async with store.read() as conn:
        ticket = await load_ticket(conn, number)
        if ticket is None:
            return None
        return TicketDetail(
            ticket,
            tuple(await load_timeline(conn, number)),
            tuple(await ticket_entries(conn, number)),
        )

"""Tickets, their timelines and the ticket counter, as rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.schema import ticket_counter, ticket_events, tickets

_COLUMNS = {f.name: ("check_name" if f.name == "check" else f.name) for f in fields(Ticket)}
"""Ticket field -> column; ``check`` is a reserved word in SQL."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A timeline event with its row id (what outbox rows point at)."""

    id: int
    event: TicketEvent
    result_id: int | None = None


_NEXT_NUMBER = select(ticket_counter.c.last_number).where(ticket_counter.c.id == 1)
# The daemon runs these two for every result: built once, values bound at execute.
_OPEN_TICKET = select(tickets).where(
    tickets.c.dedup_key == bindparam("key"), tickets.c.status != "resolved"
)


async def next_number(conn: AsyncConnection) -> int:
    """The number the next ticket will get."""
    last = (await conn.execute(_NEXT_NUMBER)).scalar_one()
    return int(last) + 1


async def take_number(conn: AsyncConnection, number: int) -> None:
    """Consume ``number`` (from ``next_number`` in the same transaction)."""
    taken = await conn.execute(
        update(ticket_counter)
        .where(ticket_counter.c.id == 1, ticket_counter.c.last_number == number - 1)
        .values(last_number=number)
    )
    if taken.rowcount != 1:
        raise RuntimeError(f"ticket number {number} is no longer the next one")


def _ticket(row: Row[Any]) -> Ticket:
    mapping = row._mapping
    values = {name: mapping[column] for name, column in _COLUMNS.items()}
    values["status"] = TicketStatus(values["status"])
    values["response_breached"] = bool(values["response_breached"])
    values["resolution_breached"] = bool(values["resolution_breached"])
    return Ticket(**values)


async def load_ticket(conn: AsyncConnection, number: int) -> Ticket | None:
    row = (await conn.execute(select(tickets).where(tickets.c.number == number))).first()
    return None if row is None else _ticket(row)


async def load_open_ticket(conn: AsyncConnection, key: str) -> Ticket | None:
    row = (await conn.execute(_OPEN_TICKET, {"key": key})).first()
    return None if row is None else _ticket(row)


async def open_tickets(conn: AsyncConnection, checks: Iterable[str] | None = None) -> list[Ticket]:
    """Open tickets, oldest first; only those of ``checks`` when given."""
    query = select(tickets).where(tickets.c.status != "resolved").order_by(tickets.c.number)
    if checks is not None:
        query = query.where(tickets.c.check_name.in_(list(checks)))
    return [_ticket(row) for row in (await conn.execute(query)).all()]


async def list_tickets(
    conn: AsyncConnection, *, include_resolved: bool, limit: int | None = None
) -> list[Ticket]:
    """Newest first."""
    query = select(tickets).order_by(tickets.c.number.desc())
    if not include_resolved:
        query = query.where(tickets.c.status != "resolved")
    if limit is not None:
        query = query.limit(limit)
    return [_ticket(row) for row in (await conn.execute(query)).all()]


async def tickets_overlapping(
    conn: AsyncConnection, check: str, start: datetime, end: datetime
) -> list[Ticket]:
    """The tickets of ``check`` open at some moment of [start, end), oldest first: opened
    before ``end`` and not resolved before ``start`` (a check's graphs shade them)."""
    query = (
        select(tickets)
        .where(
            tickets.c.check_name == check,
            tickets.c.opened_at < end,
            or_(tickets.c.resolved_at.is_(None), tickets.c.resolved_at >= start),
        )
        .order_by(tickets.c.opened_at, tickets.c.number)
    )
    return [_ticket(row) for row in (await conn.execute(query)).all()]


async def save_ticket(conn: AsyncConnection, ticket: Ticket, now: datetime) -> None:
    values: dict[str, Any] = {column: getattr(ticket, name) for name, column in _COLUMNS.items()}
    values["status"] = ticket.status.value
    values["updated_at"] = now
    number = values.pop("number")
    updated = await conn.execute(update(tickets).where(tickets.c.number == number).values(values))
    if updated.rowcount == 0:
        await conn.execute(insert(tickets).values(number=number, **values))


async def insert_events(
    conn: AsyncConnection, events: Sequence[TicketEvent], result_id: int | None = None
) -> list[StoredEvent]:
    stored = []
    for event in events:
        inserted = await conn.execute(
            insert(ticket_events)
            .values(
                ticket=event.ticket,
                dedup_key=event.dedup_key,
                check_name=event.check,
                at=event.at,
                type=event.type.value,
                actor=event.actor,
                note=event.note,
                notify=event.notify,
                payload=dict(event.payload),
                result_id=result_id,
            )
            .returning(ticket_events.c.id)
        )
        stored.append(StoredEvent(int(inserted.scalar_one()), event, result_id))
    return stored


def _event(row: Row[Any]) -> StoredEvent:
    m = row._mapping
    event = TicketEvent(
        type=EventType(m["type"]),
        at=m["at"],
        check=m["check_name"],
        dedup_key=m["dedup_key"],
        ticket=m["ticket"],
        notify=bool(m["notify"]),
        actor=m["actor"],
        note=m["note"],
        payload=m["payload"],
    )
    return StoredEvent(int(m["id"]), event, m["result_id"])


async def load_timeline(conn: AsyncConnection, number: int) -> list[StoredEvent]:
    """A ticket's events in the order they were recorded."""
    rows = await conn.execute(
        select(ticket_events).where(ticket_events.c.ticket == number).order_by(ticket_events.c.id)
    )
    return [_event(row) for row in rows.all()]


async def tickets_opened_between(
    conn: AsyncConnection, start: datetime, end: datetime, checks: Iterable[str] | None = None
) -> list[Ticket]:
    """Tickets opened in [start, end), oldest first; only those of ``checks`` when given (the
    health report's)."""
    query = (
        select(tickets)
        .where(tickets.c.opened_at >= start, tickets.c.opened_at < end)
        .order_by(tickets.c.opened_at, tickets.c.number)
    )
    if checks is not None:
        query = query.where(tickets.c.check_name.in_(list(checks)))
    return [_ticket(row) for row in (await conn.execute(query)).all()]

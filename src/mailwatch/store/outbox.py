"""The outbox of notices: rows the planner queues and the alerts sender claims and delivers.

Every change of a row's status is a compare-and-set on (id, old status), so a row is claimed by
one sender only and a row marked ``delivered`` is never sent again. Statuses: docs/alerts.md.
Finished rows of resolved tickets are deleted after a retention (``prune_finished``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.notices import (
    BACKLOG_STATUSES,
    DUE_STATUSES,
    TOLD_STATUSES,
    UNTRIED_STATUSES,
    NoticeKind,
    OutboxStatus,
)
from mailwatch.domain.tickets import TicketStatus
from mailwatch.store.schema import outbox, tickets


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One notice to send over one route, caused by one timeline event."""

    event_id: int
    ticket: int | None
    route: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    next_attempt_at: datetime | None = None
    status: OutboxStatus = OutboxStatus.PENDING


async def insert_outbox(
    conn: AsyncConnection, rows: Sequence[OutboxRow], now: datetime
) -> list[int]:
    """Queue rows as ``pending`` (or the ``scheduled`` they ask for); due now unless they say
    otherwise."""
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
                status=row.status,
                attempts=0,
                next_attempt_at=row.next_attempt_at or now,
                created_at=now,
            )
            .returning(outbox.c.id)
        )
        ids.append(int(inserted.scalar_one()))
    return ids


async def outbox_backlog(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.status.in_(BACKLOG_STATUSES))
    return int((await conn.execute(query)).scalar_one())


async def oldest_backlog_at(conn: AsyncConnection) -> datetime | None:
    """Since when the oldest notice still waiting has been due (None: nothing waits).

    A row's due time is in its payload (``due_at``): an escalation step scheduled when the
    ticket opened has waited only since its step came, not since the opening.
    """
    query = select(outbox.c.created_at, outbox.c.payload).where(
        outbox.c.status.in_(BACKLOG_STATUSES)
    )
    waiting = [
        _due_at(payload) or created_at for created_at, payload in (await conn.execute(query)).all()
    ]
    return min(waiting, default=None)


def _due_at(payload: Mapping[str, Any] | None) -> datetime | None:
    value = (payload or {}).get("due_at")
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


# --------------------------------------------------------------------------------------------
# The sender's side
# --------------------------------------------------------------------------------------------

ESCALATION_KINDS = (NoticeKind.OPENED, NoticeKind.ESCALATION)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A stored outbox row."""

    id: int
    ticket: int | None
    event_id: int | None
    route: str
    kind: str
    payload: Mapping[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None
    interrupted_resends: int = 0
    """How many times an interrupted attempt at this row was sent again."""
    attempt_started_at: datetime | None = None
    """When the claimed row was handed to apprise (None: claimed, not yet sent)."""


def _entry(row: Row[Any]) -> OutboxEntry:
    m = row._mapping
    return OutboxEntry(
        id=int(m["id"]),
        ticket=m["ticket"],
        event_id=m["event"],
        route=m["route"],
        kind=m["kind"],
        payload=dict(m["payload"] or {}),
        status=OutboxStatus(m["status"]),
        attempts=int(m["attempts"]),
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        delivered_at=m["delivered_at"],
        last_error=m["last_error"],
        interrupted_resends=int(m["interrupted_resends"]),
        attempt_started_at=m["attempt_started_at"],
    )


async def due_rows(conn: AsyncConnection, now: datetime, limit: int) -> list[OutboxEntry]:
    """Rows whose time has come, oldest due first."""
    query = (
        select(outbox)
        .where(outbox.c.status.in_(DUE_STATUSES), outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
    )
    return [_entry(row) for row in (await conn.execute(query)).all()]


async def load_entry(conn: AsyncConnection, row_id: int) -> OutboxEntry | None:
    row = (await conn.execute(select(outbox).where(outbox.c.id == row_id))).first()
    return None if row is None else _entry(row)


async def ticket_entries(conn: AsyncConnection, ticket: int) -> list[OutboxEntry]:
    """Every row of one ticket, in the order they were queued."""
    query = select(outbox).where(outbox.c.ticket == ticket).order_by(outbox.c.id)
    return [_entry(row) for row in (await conn.execute(query)).all()]


async def unsent_rows_of_route(conn: AsyncConnection, route: str, kind: str) -> list[OutboxEntry]:
    """Rows of one route and kind still waiting for a first or next attempt."""
    query = (
        select(outbox)
        .where(
            outbox.c.route == route,
            outbox.c.kind == kind,
            outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)),
        )
        .order_by(outbox.c.id)
    )
    return [_entry(row) for row in (await conn.execute(query)).all()]


async def change_status(
    conn: AsyncConnection,
    row_id: int,
    expected: OutboxStatus | Sequence[OutboxStatus],
    status: OutboxStatus,
    **values: Any,
) -> bool:
    """Set ``status`` (and other columns) only if the row is still in ``expected``; False when
    someone else changed it first."""
    olds = [expected] if isinstance(expected, str) else list(expected)
    changed = await conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id, outbox.c.status.in_(olds))
        .values(status=status, **values)
    )
    return bool(changed.rowcount == 1)


async def cancel_entries(conn: AsyncConnection, ids: Sequence[int], reason: str) -> list[int]:
    """Cancel those of ``ids`` nobody has tried to send yet; returns the ones cancelled."""
    done = []
    for row_id in ids:
        if await change_status(
            conn, row_id, UNTRIED_STATUSES, OutboxStatus.CANCELLED, last_error=reason
        ):
            done.append(row_id)
    return done


INTERRUPTED = "interrupted: mailwatch stopped during this attempt"
UNCERTAIN = "delivery uncertain: mailwatch stopped during this attempt"


@dataclass(frozen=True, slots=True)
class Interrupted:
    """What start-up found of rows a dead sender left in ``sending``."""

    unsent: list[int] = field(default_factory=list)
    """Claimed but never handed to apprise: nobody can have them; due again now, uncounted."""
    resent: list[int] = field(default_factory=list)
    """Due again now."""
    uncertain: list[int] = field(default_factory=list)
    """Interrupted once more than allowed: never sent again."""


async def settle_interrupted(
    conn: AsyncConnection, now: datetime, max_resends: int, node: str | None = None
) -> Interrupted:
    """Rows left in ``sending`` by a sender that died mid-attempt: with several nodes, those
    whose claim lapsed (its sender stopped renewing it) or that ``node`` itself claimed before
    it restarted; a row another live node is sending is left alone. The receiver may or may not
    have that attempt: a row is due again now (at least once) while it has been resent for an
    interruption fewer than ``max_resends`` times, and ``uncertain`` after that (at most
    1 + ``max_resends`` times through interruptions). The interrupted attempt is counted. A
    row claimed but never handed to apprise (no ``attempt_started_at``) reached nobody: it is
    due again now, and neither its attempt nor a resend is counted."""
    found = (
        await conn.execute(
            select(
                outbox.c.id,
                outbox.c.interrupted_resends,
                outbox.c.attempt_started_at,
                outbox.c.attempts,
            )
            .where(outbox.c.status == OutboxStatus.SENDING, _claim_lapsed(now, node))
            .order_by(outbox.c.id)
        )
    ).all()
    result = Interrupted()
    for row_id, resends, started_at, attempts in found:
        if started_at is None:
            untried = OutboxStatus.PENDING if int(attempts) == 0 else OutboxStatus.FAILED
            if await change_status(
                conn, int(row_id), OutboxStatus.SENDING, untried, next_attempt_at=now
            ):
                result.unsent.append(int(row_id))
        elif int(resends) < max_resends:
            if await change_status(
                conn,
                int(row_id),
                OutboxStatus.SENDING,
                OutboxStatus.FAILED,
                attempts=outbox.c.attempts + 1,
                interrupted_resends=outbox.c.interrupted_resends + 1,
                next_attempt_at=now,
                last_error=INTERRUPTED,
            ):
                result.resent.append(int(row_id))
        elif await change_status(
            conn,
            int(row_id),
            OutboxStatus.SENDING,
            OutboxStatus.UNCERTAIN,
            attempts=outbox.c.attempts + 1,
            last_error=UNCERTAIN,
        ):
            result.uncertain.append(int(row_id))
    return result


def _claim_lapsed(now: datetime, node: str | None) -> ColumnElement[bool]:
    """A row in ``sending`` nobody is sending any more: claimed before claims had a lease, by
    ``node`` (this node, restarted), or by a node that stopped renewing the claim."""
    lapsed = or_(
        outbox.c.claim_expires_at.is_(None),
        outbox.c.claim_expires_at < now,
        outbox.c.claimed_by.is_(None),
    )
    return lapsed if node is None else or_(lapsed, outbox.c.claimed_by == node)


async def renew_claims(
    conn: AsyncConnection, ids: Sequence[int], node: str, until: datetime
) -> int:
    """Extend ``node``'s claim on the rows ``ids`` it is still sending; how many it holds."""
    changed = await conn.execute(
        update(outbox)
        .where(
            outbox.c.id.in_(list(ids)),
            outbox.c.status == OutboxStatus.SENDING,
            outbox.c.claimed_by == node,
        )
        .values(claim_expires_at=until)
    )
    return int(changed.rowcount)


async def mark_attempt_started(conn: AsyncConnection, ids: Sequence[int], now: datetime) -> None:
    """The claimed rows ``ids`` are being handed to apprise: from now on, a stop leaves them
    interrupted (``settle_interrupted``)."""
    await conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(list(ids)), outbox.c.status == OutboxStatus.SENDING)
        .values(attempt_started_at=now)
    )


async def escalation_steps(conn: AsyncConnection) -> dict[int, int]:
    """The highest escalation step each open ticket has reached (sent or being sent)."""
    query = (
        select(outbox.c.ticket, outbox.c.payload)
        .join(tickets, tickets.c.number == outbox.c.ticket)
        .where(
            tickets.c.status != TicketStatus.RESOLVED,
            outbox.c.kind.in_(ESCALATION_KINDS),
            outbox.c.status.in_((*TOLD_STATUSES, OutboxStatus.DEAD)),
        )
    )
    steps: dict[int, int] = {}
    for ticket, payload in (await conn.execute(query)).all():
        step = (payload or {}).get("step")
        if isinstance(step, int):
            steps[int(ticket)] = max(step, steps.get(int(ticket), 0))
    return steps


# --------------------------------------------------------------------------------------------
# Pruning
# --------------------------------------------------------------------------------------------

FINISHED_STATUSES = (
    OutboxStatus.DELIVERED,
    OutboxStatus.DEAD,
    OutboxStatus.CANCELLED,
    OutboxStatus.UNCERTAIN,
)
"""Rows nobody will send again: delivered, given up, no longer wanted, or uncertain."""


async def prune_finished(conn: AsyncConnection, now: datetime, retention: timedelta) -> int:
    """Delete finished rows older than ``retention``; how many went.

    A row goes when its ticket (if it has one) was resolved before the cutoff and has no row
    left to send, and the row itself ended before the cutoff: delivered then, or last due or
    tried then (a recovery notice can be given up long after its ticket resolved). An open
    ticket keeps every row: the planner reads them to find the routes that hear its
    recovery, and the status file its escalation step. The timeline events of every attempt
    stay: they are the ticket's history.
    """
    cutoff = now - retention
    other = outbox.alias("other")
    waiting = exists().where(
        other.c.ticket == outbox.c.ticket, other.c.status.not_in(FINISHED_STATUSES)
    )
    resolved = exists().where(
        tickets.c.number == outbox.c.ticket,
        tickets.c.status == TicketStatus.RESOLVED,
        tickets.c.resolved_at < cutoff,
    )
    deleted = await conn.execute(
        delete(outbox).where(
            outbox.c.status.in_(FINISHED_STATUSES),
            func.coalesce(outbox.c.delivered_at, outbox.c.next_attempt_at) < cutoff,
            or_(outbox.c.ticket.is_(None), and_(resolved, ~waiting)),
        )
    )
    return int(deleted.rowcount)

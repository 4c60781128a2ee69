"""Settling an attempt: the row's new status and its timeline event, in one transaction.

``delivered``; or ``failed`` with the next attempt after exponential backoff, a copy on the
route's fallback after ``fallback_after_attempts`` failures, and ``dead`` past
``give_up_after_s``. See docs/alerts.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.alerts.attempt import attempt_event, error_text
from mailwatch.alerts.backoff import retry_delay_s
from mailwatch.alerts.delivery import DeliveryOutcome
from mailwatch.alerts.routes import Route
from mailwatch.domain.notices import OutboxStatus
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import iso, parse_instant
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.outbox import (
    OutboxEntry,
    OutboxRow,
    change_status,
    insert_outbox,
    ticket_entries,
)
from mailwatch.store.tickets import insert_events

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

log = logging.getLogger("mailwatch.alerts.sender")


@dataclass
class SendReport:
    """What one ``run_once`` did, for tests and logs."""

    delivered: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return len(self.delivered) + len(self.failed) + len(self.dead) + len(self.cancelled)

    def add(self, other: SendReport) -> None:
        """Count ``other``'s rows in this report too."""
        for name in ("delivered", "failed", "dead", "cancelled", "deferred", "fallbacks"):
            getattr(self, name).extend(getattr(other, name))


@dataclass
class Settler:
    """Records the outcome of attempts made under one ``config``; ``jitter`` draws the
    backoff factor."""

    config: MailwatchConfig
    jitter: Callable[[], float]
    report: SendReport

    def _number(self, ticket: Ticket) -> str:
        return format_number(ticket.number, self.config.incidents.ticket_prefix)

    def _fields(self, entry: OutboxEntry, ticket: Ticket) -> dict[str, str]:
        """The log record's fields (``[daemon] log_format = "json"`` shows them)."""
        return {"check": ticket.check, "ticket": self._number(ticket), "route": entry.route}

    async def delivered(
        self,
        conn: AsyncConnection,
        entry: OutboxEntry,
        ticket: Ticket,
        outcome: DeliveryOutcome,
        now: datetime,
        grouped: int,
    ) -> None:
        attempt = entry.attempts + 1
        await change_status(
            conn,
            entry.id,
            OutboxStatus.SENDING,
            OutboxStatus.DELIVERED,
            attempts=attempt,
            delivered_at=now,
            last_error=None,
        )
        extra: dict[str, Any] = {"grouped_with": grouped - 1} if grouped > 1 else {}
        log.info(
            "%s: %s notice delivered to route %s (attempt %d)",
            self._number(ticket),
            entry.kind,
            entry.route,
            attempt,
            extra=self._fields(entry, ticket),
        )
        event = attempt_event(
            EventType.NOTIFICATION_SENT, ticket, entry, now, outcome=outcome, **extra
        )
        await insert_events(conn, [event])
        self.report.delivered.append(entry.id)

    async def failed(
        self,
        conn: AsyncConnection,
        route: Route | None,
        entry: OutboxEntry,
        ticket: Ticket,
        outcome: DeliveryOutcome,
        now: datetime,
    ) -> None:
        """Settle a failed attempt: retry later, or give up; fall back once, if the route can."""
        settings = self.config.outbox
        attempt = entry.attempts + 1
        error = error_text(outcome)
        due_at = parse_instant(entry.payload.get("due_at")) or entry.created_at
        give_up = (now - due_at).total_seconds() >= settings.give_up_after_s
        # ``error`` is masked already: no URL token reaches the log.
        log.warning(
            "%s: %s notice to route %s failed (attempt %d)%s: %s",
            self._number(ticket),
            entry.kind,
            entry.route,
            attempt,
            ", giving up" if give_up else "",
            error,
            extra=self._fields(entry, ticket),
        )
        if give_up:
            events = [await self._give_up(conn, entry, ticket, outcome, now, error)]
        else:
            events = [await self._retry(conn, entry, ticket, outcome, now, error)]
        if (
            route is not None
            and route.fallback is not None
            and (
                attempt == settings.fallback_after_attempts
                or (give_up and attempt < settings.fallback_after_attempts)
            )
        ):
            event = await self._fall_back(conn, entry, ticket, route.fallback, now)
            if event is not None:
                events.append(event)
        await insert_events(conn, events)

    async def _give_up(
        self,
        conn: AsyncConnection,
        entry: OutboxEntry,
        ticket: Ticket,
        outcome: DeliveryOutcome,
        now: datetime,
        error: str,
    ) -> TicketEvent:
        await change_status(
            conn,
            entry.id,
            OutboxStatus.SENDING,
            OutboxStatus.DEAD,
            attempts=entry.attempts + 1,
            last_error=error,
        )
        self.report.dead.append(entry.id)
        return attempt_event(EventType.NOTIFICATION_GIVEN_UP, ticket, entry, now, outcome=outcome)

    async def _retry(
        self,
        conn: AsyncConnection,
        entry: OutboxEntry,
        ticket: Ticket,
        outcome: DeliveryOutcome,
        now: datetime,
        error: str,
    ) -> TicketEvent:
        settings = self.config.outbox
        attempt = entry.attempts + 1
        delay = retry_delay_s(
            attempt, settings.retry_initial_s, settings.retry_max_s, self.jitter()
        )
        retry_at = now + timedelta(seconds=delay)
        await change_status(
            conn,
            entry.id,
            OutboxStatus.SENDING,
            OutboxStatus.FAILED,
            attempts=attempt,
            next_attempt_at=retry_at,
            last_error=error,
        )
        self.report.failed.append(entry.id)
        return attempt_event(
            EventType.NOTIFICATION_FAILED,
            ticket,
            entry,
            now,
            outcome=outcome,
            next_attempt_at=iso(retry_at),
        )

    async def _fall_back(
        self,
        conn: AsyncConnection,
        entry: OutboxEntry,
        ticket: Ticket,
        fallback: str,
        now: datetime,
    ) -> TicketEvent | None:
        queued = await queue_fallback(conn, entry, fallback, now)
        if queued is None:
            return None
        self.report.fallbacks.append(queued)
        return attempt_event(
            EventType.NOTIFICATION_FALLBACK,
            ticket,
            entry,
            now,
            fallback_route=fallback,
            fallback_outbox_id=queued,
        )


async def queue_fallback(
    conn: AsyncConnection, entry: OutboxEntry, fallback: str, now: datetime
) -> int | None:
    """A copy of ``entry`` on the fallback route, once: None if that route already has (or
    had) this very notice."""
    assert entry.ticket is not None
    same = ("kind", "step", "repeat", "breach")
    for other in await ticket_entries(conn, entry.ticket):
        if (
            other.route == fallback
            and other.kind == entry.kind
            and other.event_id == entry.event_id
            and all(other.payload.get(k) == entry.payload.get(k) for k in same)
            and other.status not in (OutboxStatus.CANCELLED, OutboxStatus.DEAD)
        ):
            return None
    payload = dict(entry.payload) | {"fallback_of": entry.id, "fallback_from": entry.route}
    payload["due_at"] = iso(now)
    assert entry.event_id is not None
    row = OutboxRow(
        event_id=entry.event_id,
        ticket=entry.ticket,
        route=fallback,
        kind=entry.kind,
        payload=payload,
        next_attempt_at=now,
    )
    (queued,) = await insert_outbox(conn, [row], now)
    return queued

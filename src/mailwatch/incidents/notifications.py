"""Which routes hear of which timeline events, and when: the outbox rows of a ticket's events.

The processor calls ``plan_notifications`` inside the transaction that stores the events and
writes the rows it returns to the outbox, so an event and its notifications are stored
together or not at all. Escalation ladders are planned whole when a ticket opens: each later
step and repeat is a ``scheduled`` row with an absolute due time, so a restart resumes the
ladder where it was. Acknowledging, mitigating or resolving cancels the rows nobody has tried
to send yet, in the same transaction. See docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.alerts.facts import alert_facts
from mailwatch.alerts.grouping import dependency_root
from mailwatch.alerts.ladder import PlannedNotice, ladder_for, ladder_notices
from mailwatch.alerts.routes import Route, build_routes, route_matches
from mailwatch.domain.notices import TOLD_STATUSES, NoticeKind
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.outbox import OutboxEntry, OutboxRow, cancel_entries, ticket_entries
from mailwatch.store.tickets import StoredEvent

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

CANCELS: dict[EventType, frozenset[NoticeKind]] = {
    EventType.ACKNOWLEDGED: frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION}),
    EventType.MITIGATED: frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION, NoticeKind.REMINDER}),
    EventType.TICKET_RESOLVED: frozenset(
        {NoticeKind.OPENED, NoticeKind.ESCALATION, NoticeKind.REMINDER, NoticeKind.BREACH}
    ),
}
"""Notices that stop being wanted, whether or not the event itself notifies (an
acknowledgement during a maintenance window still stops the ladder)."""

BREACHES = {
    EventType.SLA_BREACHED_RESPONSE: "response",
    EventType.SLA_BREACHED_RESOLUTION: "resolution",
}

_CARRIED = ("stage", "summary", "metrics", "failing_since")
"""Event payload fields a notice keeps (the key figure and the failure start)."""


async def plan_notifications(
    conn: AsyncConnection,
    events: Sequence[StoredEvent],
    ticket: Ticket | None,
    config: MailwatchConfig,
    now: datetime,
) -> list[OutboxRow]:
    """Outbox rows for the events of one ticket (``ticket`` None: check-level events, which
    notify nobody), cancelling in ``conn`` the rows those events make unwanted.

    Only events with ``notify`` set produce rows now; the reminder an acknowledgement
    schedules is the exception (the sender holds it back if its time falls in a quiet period).
    """
    if ticket is None or not config.routes:
        return []
    planner = _Planner(conn, ticket, config, now)
    for item in events:
        if item.event.ticket == ticket.number:
            await planner.take(item)
    return planner.rows


class _Planner:
    def __init__(
        self, conn: AsyncConnection, ticket: Ticket, config: MailwatchConfig, now: datetime
    ) -> None:
        self.conn = conn
        self.ticket = ticket
        self.config = config
        self.now = now
        self.rows: list[OutboxRow] = []
        self._routes: dict[str, Route] | None = None
        self._entries: list[OutboxEntry] | None = None

    @property
    def routes(self) -> dict[str, Route]:
        if self._routes is None:
            self._routes = build_routes(self.config)
        return self._routes

    async def entries(self) -> list[OutboxEntry]:
        if self._entries is None:
            self._entries = await ticket_entries(self.conn, self.ticket.number)
        return self._entries

    async def take(self, item: StoredEvent) -> None:
        event = item.event
        kinds = CANCELS.get(event.type)
        if kinds is not None:
            await self.cancel(kinds, f"not wanted after {event.type.value}")
        if event.type is EventType.ACKNOWLEDGED:
            await self.reminder(item)
        if not event.notify:
            return
        if event.type is EventType.TICKET_OPENED:
            self.ladder(item, event.at, escalate=True)
        elif event.type in (EventType.SEVERITY_RAISED, EventType.NOTIFICATIONS_RESUMED):
            # Announce again and start the (new severity's) ladder over from now.
            await self.cancel(
                frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION}),
                f"superseded by {event.type.value}",
            )
            triggered = self.ticket.status is TicketStatus.TRIGGERED
            self.ladder(item, event.at, escalate=triggered)
        elif event.type in BREACHES:
            routes = await self.told(include_pending=True) or self.first_step_routes()
            self.queue(item, NoticeKind.BREACH, routes, self.now, breach=BREACHES[event.type])
        elif event.type is EventType.TICKET_RESOLVED:
            told = await self.told(include_pending=False)
            wanted = [r for r in told if NoticeKind.RECOVERY in self.routes[r].config.notices]
            for name in wanted:
                self.rows.append(self.row(item, NoticeKind.RECOVERY, name, self.now))

    async def cancel(self, kinds: frozenset[NoticeKind], reason: str) -> None:
        """Cancel the not-yet-tried rows of ``kinds``, stored or planned in this call."""
        self.rows = [row for row in self.rows if row.kind not in kinds]
        entries = await self.entries()
        ids = [e.id for e in entries if e.kind in kinds and e.status in ("scheduled", "pending")]
        cancelled = set(await cancel_entries(self.conn, ids, reason))
        self._entries = [e for e in entries if e.id not in cancelled]

    async def told(self, *, include_pending: bool) -> list[str]:
        """Routes that heard of the ticket (or are being told), in the order first told."""
        statuses = (*TOLD_STATUSES, "pending") if include_pending else TOLD_STATUSES
        names = [
            e.route
            for e in await self.entries()
            if e.status in statuses and e.kind != NoticeKind.RECOVERY and e.route in self.routes
        ]
        return list(dict.fromkeys(names))

    def first_step_routes(self) -> list[str]:
        steps = ladder_for(self.config, self.ticket.severity)
        return list(steps[0].routes) if steps[0].routes is not None else list(self.routes)

    def matching(self, names: Iterable[str] | None, kind: NoticeKind, at: datetime) -> list[str]:
        """Routes among ``names`` (None: all) whose filters take a ``kind`` notice at ``at``."""
        facts = alert_facts(self.ticket, kind, self.config)
        chosen = self.routes.values() if names is None else [self.routes[n] for n in names]
        return [route.name for route in chosen if route_matches(route, facts, at)]

    def ladder(self, item: StoredEvent, start: datetime, *, escalate: bool) -> None:
        notices = ladder_notices(ladder_for(self.config, self.ticket.severity), start)
        if not escalate:
            notices = [n for n in notices if n.kind is NoticeKind.OPENED]
        group = dependency_root(self.config, self.ticket.check)
        wait = timedelta(seconds=self.config.outbox.group_wait_s if group else 0)
        for notice in notices:
            due = max(notice.due_at, self.now)
            if notice.kind is NoticeKind.OPENED:
                due += wait
            for name in self.matching(notice.routes, notice.kind, due):
                self.rows.append(self.ladder_row(item, notice, name, due, group))

    def ladder_row(
        self,
        item: StoredEvent,
        notice: PlannedNotice,
        route: str,
        due: datetime,
        group: str | None,
    ) -> OutboxRow:
        extra: dict[str, Any] = {"step": notice.step, "repeat": notice.repeat}
        if notice.kind is NoticeKind.OPENED and group is not None:
            extra["group"] = group
        return self.row(item, notice.kind, route, due, **extra)

    async def reminder(self, item: StoredEvent) -> None:
        before = self.config.reminders.before_resolution_due
        due = self.ticket.resolution_due
        if before is None or due is None or self.ticket.status is not TicketStatus.ACKNOWLEDGED:
            return
        at = max(self.now, due - before)
        routes = await self.told(include_pending=True) or self.first_step_routes()
        self.queue(item, NoticeKind.REMINDER, routes, at)

    def queue(
        self,
        item: StoredEvent,
        kind: NoticeKind,
        routes: Iterable[str],
        at: datetime,
        **extra: Any,
    ) -> None:
        for name in self.matching(routes, kind, at):
            self.rows.append(self.row(item, kind, name, at, **extra))

    def row(
        self, item: StoredEvent, kind: NoticeKind, route: str, due: datetime, **extra: Any
    ) -> OutboxRow:
        payload = _carried(item.event) | {"reason": item.event.type.value, "due_at": iso(due)}
        return OutboxRow(
            event_id=item.id,
            ticket=self.ticket.number,
            route=route,
            kind=kind.value,
            payload=payload | extra,
            next_attempt_at=due,
            status="pending" if due <= self.now or kind is NoticeKind.OPENED else "scheduled",
        )


def _carried(event: TicketEvent) -> dict[str, Any]:
    return {key: event.payload[key] for key in _CARRIED if key in event.payload}

"""Which routes hear of which timeline events, and when: the outbox rows of a ticket's events.

Pure: from the events one decision stored, the ticket, the outbox rows already planned for it,
the routes and the time, ``plan_outbox`` computes the rows to add and the rows to cancel. The
incidents processor loads those inputs and writes the plan in the transaction that stores the
events, so an event and its notices are stored together or not at all.

Escalation ladders are planned whole when a ticket opens: each later step and repeat is a
``scheduled`` row with an absolute due time, so a restart resumes the ladder where it was.
Acknowledging, mitigating or resolving cancels the rows nobody has tried to send yet. Which
notice is wanted is ``mailwatch.alerts.rules``, which the sender's gate asks too. See
docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailwatch.alerts import rules
from mailwatch.alerts.facts import notice_facts
from mailwatch.alerts.grouping import dependency_root
from mailwatch.alerts.ladder import (
    DEFAULT_LADDER,
    EscalationStep,
    PlannedNotice,
    ladder_for,
    ladder_notices,
)
from mailwatch.alerts.messages import NoticeFacts
from mailwatch.alerts.routes import Route, route_matches, route_test_targets
from mailwatch.domain.notices import TOLD_STATUSES, UNTRIED_STATUSES, NoticeKind, OutboxStatus
from mailwatch.domain.tickets import Ticket
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.outbox import OutboxEntry, OutboxRow
from mailwatch.store.tickets import StoredEvent

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

BREACHES = {
    EventType.SLA_BREACHED_RESPONSE: "response",
    EventType.SLA_BREACHED_RESOLUTION: "resolution",
}

_CARRIED = ("stage", "summary", "metrics", "failing_since")
"""Event payload fields a notice keeps (the key figure and the failure start)."""


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """The parts of the config the planner needs for one ticket.

    ``facts`` are the ticket's facts as route filters see them (the kind aside); ``group`` is
    the root of the ticket's ``depends_on`` chain (None: nothing to group with).
    """

    routes: Mapping[str, Route]
    ladder: tuple[EscalationStep, ...]
    facts: NoticeFacts
    group: str | None = None
    group_wait: timedelta = timedelta(0)
    remind_before: timedelta | None = None

    @classmethod
    def for_ticket(
        cls, config: MailwatchConfig, ticket: Ticket, routes: Mapping[str, Route]
    ) -> PlannerSettings:
        # A route test's ticket goes to the tested route's fallback at once, never up a
        # ladder whose steps may name the very route that failed.
        targets = route_test_targets(dict(routes), ticket.check)
        return cls(
            routes=routes if targets is None else targets,
            ladder=ladder_for(config, ticket.severity) if targets is None else DEFAULT_LADDER,
            facts=notice_facts(ticket, NoticeKind.OPENED, config),
            group=dependency_root(config, ticket.check),
            group_wait=timedelta(seconds=config.outbox.group_wait_s),
            remind_before=config.reminders.before_resolution_due,
        )


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A stored row nobody has tried to send yet that is no longer wanted, and why."""

    entry_id: int
    reason: str


@dataclass
class OutboxChanges:
    """What a decision changes in the outbox: rows to add, stored rows to cancel."""

    rows: list[OutboxRow] = field(default_factory=list)
    cancellations: list[Cancellation] = field(default_factory=list)

    def cancelled_by_reason(self) -> dict[str, list[int]]:
        """The ids to cancel, by reason, in the order the plan cancelled them."""
        grouped: dict[str, list[int]] = {}
        for item in self.cancellations:
            grouped.setdefault(item.reason, []).append(item.entry_id)
        return grouped


def plan_outbox(
    events: Sequence[StoredEvent],
    ticket: Ticket,
    entries: Sequence[OutboxEntry],
    settings: PlannerSettings,
    now: datetime,
) -> OutboxChanges:
    """The outbox changes that ``events`` of ``ticket`` cause, given the ticket's stored rows
    ``entries`` (events of other tickets are ignored).

    Only events with ``notify`` set produce rows; the reminder an acknowledgement schedules is
    the exception (the sender holds it back if its time falls in a quiet period).
    """
    planner = _Planner(ticket, entries, settings, now)
    for item in events:
        if item.event.ticket == ticket.number:
            planner.take(item)
    return planner.plan


class _Planner:
    def __init__(
        self,
        ticket: Ticket,
        entries: Sequence[OutboxEntry],
        settings: PlannerSettings,
        now: datetime,
    ) -> None:
        self.ticket = ticket
        self.entries = list(entries)
        self.settings = settings
        self.routes = settings.routes
        self.now = now
        self.plan = OutboxChanges()

    def take(self, item: StoredEvent) -> None:
        event = item.event
        self.cancel(rules.cancelled_by(event.type), f"not wanted after {event.type.value}")
        if event.type is EventType.ACKNOWLEDGED:
            self.reminder(item)
        if not event.notify:
            return
        if event.type is EventType.TICKET_OPENED:
            self.ladder(item, event.at, escalate=True)
        elif superseded := rules.superseded_by(event.type):
            # Announce again and start the (new severity's) ladder over from now.
            self.cancel(superseded, f"superseded by {event.type.value}")
            escalate = rules.unwanted(NoticeKind.ESCALATION, self.ticket) is None
            self.ladder(item, event.at, escalate=escalate)
        elif event.type in BREACHES:
            routes = self.told(include_pending=True) or self.first_step_routes()
            self.queue(item, NoticeKind.BREACH, routes, self.now, breach=BREACHES[event.type])
        elif event.type is EventType.TICKET_RESOLVED:
            told = self.told(include_pending=False)
            wanted = [r for r in told if NoticeKind.RECOVERY in self.routes[r].config.notices]
            for name in wanted:
                self.plan.rows.append(self.row(item, NoticeKind.RECOVERY, name, self.now))

    def cancel(self, kinds: frozenset[NoticeKind], reason: str) -> None:
        """Cancel the not-yet-tried rows of ``kinds``, stored or planned in this call."""
        if not kinds:
            return
        self.plan.rows = [row for row in self.plan.rows if row.kind not in kinds]
        cancelled = {e.id for e in self.entries if e.kind in kinds and e.status in UNTRIED_STATUSES}
        self.plan.cancellations += [Cancellation(i, reason) for i in sorted(cancelled)]
        self.entries = [e for e in self.entries if e.id not in cancelled]

    def told(self, *, include_pending: bool) -> list[str]:
        """Routes that heard of the ticket (or are being told), in the order first told."""
        statuses = (*TOLD_STATUSES, OutboxStatus.PENDING) if include_pending else TOLD_STATUSES
        names = [
            e.route
            for e in self.entries
            if e.status in statuses and e.kind != NoticeKind.RECOVERY and e.route in self.routes
        ]
        return list(dict.fromkeys(names))

    def first_step_routes(self) -> list[str]:
        steps = self.settings.ladder
        return list(steps[0].routes) if steps[0].routes is not None else list(self.routes)

    def matching(self, names: Iterable[str] | None, kind: NoticeKind, at: datetime) -> list[str]:
        """Routes among ``names`` (None: all) whose filters take a ``kind`` notice at ``at``."""
        facts = replace(self.settings.facts, kind=kind)
        chosen = self.routes.values() if names is None else [self.routes[n] for n in names]
        return [route.name for route in chosen if route_matches(route, facts, at)]

    def ladder(self, item: StoredEvent, start: datetime, *, escalate: bool) -> None:
        notices = ladder_notices(self.settings.ladder, start)
        if not escalate:
            notices = [n for n in notices if n.kind is NoticeKind.OPENED]
        group = self.settings.group
        wait = self.settings.group_wait if group else timedelta(0)
        for notice in notices:
            due = max(notice.due_at, self.now)
            if notice.kind is NoticeKind.OPENED:
                due += wait
            for name in self.matching(notice.routes, notice.kind, due):
                self.plan.rows.append(self.ladder_row(item, notice, name, due, group))

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

    def reminder(self, item: StoredEvent) -> None:
        before = self.settings.remind_before
        due = self.ticket.resolution_due
        if before is None or due is None or rules.unwanted(NoticeKind.REMINDER, self.ticket):
            return
        at = max(self.now, due - before)
        routes = self.told(include_pending=True) or self.first_step_routes()
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
            self.plan.rows.append(self.row(item, kind, name, at, **extra))

    def row(
        self, item: StoredEvent, kind: NoticeKind, route: str, due: datetime, **extra: Any
    ) -> OutboxRow:
        payload = _carried(item.event) | {"reason": item.event.type.value, "due_at": iso(due)}
        prompt = due <= self.now or kind is NoticeKind.OPENED
        return OutboxRow(
            event_id=item.id,
            ticket=self.ticket.number,
            route=route,
            kind=kind.value,
            payload=payload | extra,
            next_attempt_at=due,
            status=OutboxStatus.PENDING if prompt else OutboxStatus.SCHEDULED,
        )


def _carried(event: TicketEvent) -> dict[str, Any]:
    return {key: event.payload[key] for key in _CARRIED if key in event.payload}

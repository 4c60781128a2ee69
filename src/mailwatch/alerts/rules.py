"""The rulebook of notices: which notice is still wanted, superseded or held back.

Pure: no clock, no I/O. The planner (``mailwatch.alerts.planner``) calls it when events are
stored, to cancel rows and to leave out notices nobody wants; the sender's gate calls it again
just before a row goes out, to catch whatever raced with the planner and quiet periods that
began after the row was queued. See docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailwatch.domain.notices import NoticeKind, OutboxStatus
from mailwatch.domain.quiet import Quiet
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.domain.time import parse_instant
from mailwatch.domain.timeline import EventType
from mailwatch.store.outbox import OutboxEntry

CANCELLED_BY: dict[EventType, frozenset[NoticeKind]] = {
    EventType.ACKNOWLEDGED: frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION}),
    EventType.MITIGATED: frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION, NoticeKind.REMINDER}),
    EventType.TICKET_RESOLVED: frozenset(
        {NoticeKind.OPENED, NoticeKind.ESCALATION, NoticeKind.REMINDER, NoticeKind.BREACH}
    ),
}
"""Notices that stop being wanted after an event, whether or not the event itself notifies
(an acknowledgement during a maintenance window still stops the ladder)."""

RESTARTS_LADDER = frozenset({EventType.SEVERITY_RAISED, EventType.NOTIFICATIONS_RESUMED})
"""Events that announce the ticket again and start its ladder over: the notices of the old
ladder are superseded."""

LADDER_KINDS = frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION})

UNQUIET_RETRY = timedelta(minutes=1)
"""A quiet period with no end (none today) is looked at again this often."""

ORDER_GAP = timedelta(seconds=1)
"""A recovery notice waits this long after the earlier notice to its route still in flight."""

IN_FLIGHT = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.SENDING)
"""A row in one of these may still reach its route."""


def cancelled_by(event: EventType) -> frozenset[NoticeKind]:
    """The kinds of not-yet-tried notice that ``event`` makes unwanted (none for most)."""
    return CANCELLED_BY.get(event, frozenset())


def superseded_by(event: EventType) -> frozenset[NoticeKind]:
    """The kinds of not-yet-tried notice a notifying ``event`` replaces with new ones."""
    return LADDER_KINDS if event in RESTARTS_LADDER else frozenset()


def unwanted(kind: NoticeKind, ticket: Ticket) -> str | None:
    """Why a ``kind`` notice about ``ticket`` as it stands is not wanted (None: it is).

    Escalation is only for a ticket nobody has taken (triggered); a reminder of the
    resolution deadline only for an acknowledged one.
    """
    if kind is NoticeKind.ESCALATION and ticket.status is not TicketStatus.TRIGGERED:
        return f"not wanted: the ticket is {ticket.status.value}"
    if kind is NoticeKind.REMINDER and ticket.status is not TicketStatus.ACKNOWLEDGED:
        return f"not wanted: the ticket is {ticket.status.value}"
    return None


def held_until(quiet: Quiet, now: datetime) -> datetime:
    """When a notice held back by ``quiet`` is looked at again."""
    return quiet.until if quiet.until is not None and quiet.until > now else now + UNQUIET_RETRY


def due_at(entry: OutboxEntry) -> datetime:
    """When the notice of ``entry`` was first due (a retry keeps it)."""
    return parse_instant(entry.payload.get("due_at")) or entry.next_attempt_at


def superseded(entry: OutboxEntry, others: Iterable[OutboxEntry], now: datetime) -> bool:
    """Several pages to one route due at once (held back by a quiet period, or the daemon was
    down): only the latest escalation goes out, not a burst."""
    mine = due_at(entry)
    return any(
        other.route == entry.route
        and other.kind == NoticeKind.ESCALATION
        and other.status in (OutboxStatus.SCHEDULED, OutboxStatus.PENDING)
        and other.next_attempt_at <= now
        and due_at(other) > mine
        for other in others
    )


def waits_for_earlier(
    entry: OutboxEntry, others: Iterable[OutboxEntry], now: datetime
) -> datetime | None:
    """Not before when ``entry`` may go because an earlier notice of the same ticket to the
    same route is still in flight (None: nothing to wait for)."""
    earlier = [
        e for e in others if e.id < entry.id and e.route == entry.route and e.status in IN_FLIGHT
    ]
    if not earlier:
        return None
    return max(now, *(e.next_attempt_at for e in earlier)) + ORDER_GAP


@dataclass(frozen=True, slots=True)
class Send:
    """The notice may go now."""


@dataclass(frozen=True, slots=True)
class Cancel:
    """The notice is no longer wanted."""

    reason: str


@dataclass(frozen=True, slots=True)
class Defer:
    """The notice is held back: not before ``until``."""

    until: datetime


Verdict = Send | Cancel | Defer


def gate(
    entry: OutboxEntry,
    ticket: Ticket | None,
    others: Iterable[OutboxEntry],
    quiet: Quiet | None,
    now: datetime,
) -> Verdict:
    """Whether the claimed row ``entry`` goes now: ``others`` are the rows of its ticket (as
    they stand after the claim), ``quiet`` the quiet period covering its check."""
    if ticket is None:
        return Cancel("the ticket no longer exists")
    kind = NoticeKind(entry.kind)
    reason = unwanted(kind, ticket)
    if reason is not None:
        return Cancel(reason)
    if quiet is not None:
        return Defer(held_until(quiet, now))
    if kind is NoticeKind.ESCALATION and superseded(entry, others, now):
        return Cancel("superseded: a later escalation notice to this route is due as well")
    if kind is NoticeKind.RECOVERY:
        # The outage notice first: a recovery before it would read backwards.
        later = waits_for_earlier(entry, others, now)
        if later is not None:
            return Defer(later)
    return Send()

"""Ticket events, and the fold that turns a ticket's timeline into its current state.

Every change to a ticket is an event; ``apply`` is the only code that changes a ticket's
fields, so a ticket always equals the fold of its timeline (the tests replay it to check).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from mailwatch.domain.errors import TimelineError
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.domain.time import parse_instant

SYSTEM_ACTOR = "mailwatch"
"""The actor of events mailwatch itself records (opening, recovery, breaches)."""


class EventType(enum.StrEnum):
    TICKET_OPENED = "ticket_opened"
    SEVERITY_RAISED = "severity_raised"
    STAGE_CHANGED = "stage_changed"
    FLAPPING_STARTED = "flapping_started"
    FLAPPING_STOPPED = "flapping_stopped"
    DEPENDENT_FAILURE = "dependent_failure"
    DEPENDENT_RECOVERED = "dependent_recovered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    TICKET_RESOLVED = "ticket_resolved"
    SLA_BREACHED_RESPONSE = "sla_breached_response"
    SLA_BREACHED_RESOLUTION = "sla_breached_resolution"
    SILENCED = "silenced"
    UNSILENCED = "unsilenced"
    NOTIFICATIONS_RESUMED = "notifications_resumed"
    # The outbox sender's record of each delivery attempt; they change no ticket field.
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    NOTIFICATION_FALLBACK = "notification_fallback"
    NOTIFICATION_GIVEN_UP = "notification_given_up"
    NOTIFICATION_UNCERTAIN = "notification_uncertain"


NOTIFY_WORTHY = frozenset(
    {
        EventType.TICKET_OPENED,
        EventType.SEVERITY_RAISED,
        EventType.FLAPPING_STARTED,
        EventType.FLAPPING_STOPPED,
        EventType.ACKNOWLEDGED,
        EventType.MITIGATED,
        EventType.TICKET_RESOLVED,
        EventType.SLA_BREACHED_RESPONSE,
        EventType.SLA_BREACHED_RESOLUTION,
        EventType.NOTIFICATIONS_RESUMED,
    }
)
"""Events someone would be told about, outside maintenance, silences and flapping."""

HELD_WHILE_FLAPPING = frozenset({EventType.TICKET_OPENED, EventType.SEVERITY_RAISED})
"""What a flapping check's results would otherwise announce; people's actions, SLA breaches
and the flapping events themselves still notify."""


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One line of a ticket's timeline (``ticket`` None: a check-level event, no ticket open).

    ``notify`` says whether the alerts outbox should hear of it; ``payload`` is JSON-ready.
    """

    type: EventType
    at: datetime
    check: str
    dedup_key: str
    ticket: int | None = None
    notify: bool = False
    actor: str = SYSTEM_ACTOR
    note: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


def apply(ticket: Ticket | None, event: TicketEvent) -> Ticket | None:
    """The ticket after ``event``; events that change nothing return it unchanged."""
    p = event.payload
    if event.type is EventType.TICKET_OPENED:
        if ticket is not None:
            raise TimelineError(f"ticket {event.ticket} opened twice")
        if event.ticket is None:
            raise TimelineError("ticket_opened without a ticket number")
        return Ticket(
            number=event.ticket,
            dedup_key=event.dedup_key,
            check=event.check,
            target=str(p["target"]),
            severity=int(p["severity"]),
            status=TicketStatus.TRIGGERED,
            opened_at=event.at,
            plan=p.get("plan"),
            response_due=parse_instant(p.get("response_due")),
            resolution_due=parse_instant(p.get("resolution_due")),
            previous_ticket=p.get("previous_ticket"),
            last_stage=p.get("stage"),
            last_summary=str(p.get("summary", "")),
        )
    if ticket is None:
        if event.ticket is None:
            return None
        raise TimelineError(f"{event.type} before ticket_opened")
    if event.type is EventType.SEVERITY_RAISED:
        return replace(
            ticket,
            severity=int(p["severity"]),
            response_due=parse_instant(p.get("response_due")),
            resolution_due=parse_instant(p.get("resolution_due")),
        )
    if event.type is EventType.STAGE_CHANGED:
        return replace(ticket, last_stage=p.get("stage"))
    if event.type is EventType.ACKNOWLEDGED:
        return replace(
            ticket,
            status=TicketStatus.ACKNOWLEDGED,
            acknowledged_at=event.at,
            acknowledged_by=event.actor,
            resolution_due=parse_instant(p.get("resolution_due")),
        )
    if event.type is EventType.MITIGATED:
        # A workaround in place implies someone responded: it stops the response clock too.
        acknowledged = ticket.acknowledged_at is None
        return replace(
            ticket,
            status=TicketStatus.MITIGATED,
            mitigated_at=event.at,
            mitigated_by=event.actor,
            acknowledged_at=event.at if acknowledged else ticket.acknowledged_at,
            acknowledged_by=event.actor if acknowledged else ticket.acknowledged_by,
        )
    if event.type is EventType.TICKET_RESOLVED:
        return replace(
            ticket,
            status=TicketStatus.RESOLVED,
            resolved_at=event.at,
            resolved_by=event.actor,
            resolution_note=event.note,
        )
    if event.type is EventType.SLA_BREACHED_RESPONSE:
        return replace(ticket, response_breached=True)
    if event.type is EventType.SLA_BREACHED_RESOLUTION:
        return replace(ticket, resolution_breached=True)
    return ticket

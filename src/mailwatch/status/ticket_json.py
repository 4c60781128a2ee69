"""The JSON forms of tickets, their timelines and silences, shared by the commands' ``--json``
and the API (``/api/v1``), so that a script reads the same fields from both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mailwatch.domain.quiet import Silence
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType, TicketEvent

if TYPE_CHECKING:
    from mailwatch.store.outbox import OutboxEntry
    from mailwatch.store.tickets import StoredEvent

DELIVERY_RECORDS = frozenset(
    {
        EventType.NOTIFICATION_SENT,
        EventType.NOTIFICATION_FAILED,
        EventType.NOTIFICATION_FALLBACK,
        EventType.NOTIFICATION_GIVEN_UP,
        EventType.NOTIFICATION_UNCERTAIN,
    }
)
"""The sender's record of an attempt: the notice itself, not news to notify about."""


def ticket_dict(ticket: Ticket, prefix: str) -> dict[str, Any]:
    """The JSON form of a ticket: instants as ISO 8601 in UTC."""
    return {
        "ticket": format_number(ticket.number, prefix),
        "number": ticket.number,
        "check": ticket.check,
        "target": ticket.target,
        "severity": ticket.severity,
        "status": ticket.status.value,
        "opened_at": iso(ticket.opened_at),
        "plan": ticket.plan,
        "response_due": iso(ticket.response_due),
        "resolution_due": iso(ticket.resolution_due),
        "response_breached": ticket.response_breached,
        "resolution_breached": ticket.resolution_breached,
        "acknowledged_at": iso(ticket.acknowledged_at),
        "acknowledged_by": ticket.acknowledged_by,
        "mitigated_at": iso(ticket.mitigated_at),
        "mitigated_by": ticket.mitigated_by,
        "resolved_at": iso(ticket.resolved_at),
        "resolved_by": ticket.resolved_by,
        "resolution_note": ticket.resolution_note,
        "previous_ticket": (
            format_number(ticket.previous_ticket, prefix) if ticket.previous_ticket else None
        ),
        "last_stage": ticket.last_stage,
        "last_summary": ticket.last_summary,
    }


def event_dict(event_id: int, event: TicketEvent) -> dict[str, Any]:
    return {
        "id": event_id,
        "at": event.at.isoformat(),
        "type": event.type.value,
        "actor": event.actor,
        "note": event.note,
        "notify": event.notify,
        "payload": dict(event.payload),
    }


def notices_by_event(
    timeline: Sequence[StoredEvent], notices: Sequence[OutboxEntry]
) -> Callable[[StoredEvent], list[OutboxEntry] | None]:
    """The outbox rows each event caused; None when they may have been pruned."""
    caused: dict[int | None, list[OutboxEntry]] = {}
    for entry in notices:
        caused.setdefault(entry.event_id, []).append(entry)
    # An attempt on the timeline whose row is gone: rows of this ticket were deleted after
    # their retention, so an event without rows may have had some.
    kept = {entry.id for entry in notices}
    pruned = any(
        item.event.type in DELIVERY_RECORDS and item.event.payload.get("outbox_id") not in kept
        for item in timeline
    )

    def rows(item: StoredEvent) -> list[OutboxEntry] | None:
        found = caused.get(item.id, [])
        return None if pruned and not found else found

    return rows


def notices_json(rows: Sequence[OutboxEntry] | None) -> list[dict[str, Any]] | None:
    """What became of an event's notices (no error texts: the outbox's errors stay in the
    log)."""
    if rows is None:
        return None
    return [
        {
            "outbox_id": entry.id,
            "route": entry.route,
            "kind": entry.kind,
            "status": entry.status,
            "attempts": entry.attempts,
            "delivered_at": entry.delivered_at.isoformat() if entry.delivered_at else None,
        }
        for entry in rows
    ]


def ticket_document(
    ticket: Ticket,
    timeline: Sequence[StoredEvent],
    notices: Sequence[OutboxEntry],
    prefix: str,
) -> dict[str, Any]:
    """A ticket with its timeline, each event with the notices it caused (``show --json``)."""
    caused = notices_by_event(timeline, notices)
    data = ticket_dict(ticket, prefix)
    data["timeline"] = [
        {**event_dict(item.id, item.event), "notices": notices_json(caused(item))}
        for item in timeline
    ]
    return data


def silence_dict(silence: Silence) -> dict[str, Any]:
    """The JSON form of a silence: instants as ISO 8601 in UTC."""
    return {
        "id": silence.id,
        "check": silence.check,
        "starts_at": iso(silence.starts_at),
        "until": iso(silence.until),
        "reason": silence.reason,
        "by": silence.created_by,
        "ended_at": iso(silence.ended_at),
        "ended_by": silence.ended_by,
    }

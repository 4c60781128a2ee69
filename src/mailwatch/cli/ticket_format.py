"""How tickets and times look at a terminal and in ``--json``, for the ticket commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from mailwatch.domain.time import local, parse_instant, span
from mailwatch.domain.timeline import TicketEvent
from mailwatch.status.ticket_json import DELIVERY_RECORDS

if TYPE_CHECKING:
    from mailwatch.store.outbox import OutboxEntry

WAITING_STATUSES = frozenset({"pending", "sending", "failed"})
"""Outbox rows still on their way (``failed``: a retry is due)."""


def due(deadline: datetime | None, now: datetime, *, met: bool, breached: bool) -> str:
    """A deadline with the time left: ``in 2 h 10 min``, ``overdue by 5 min``, ``met``."""
    if deadline is None:
        return "no target"
    if met:
        return "met late" if breached else "met"
    left = (deadline - now).total_seconds()
    return f"overdue by {span(left)}" if left <= 0 else f"in {span(left)}"


def notified(event: TicketEvent, notices: Sequence[OutboxEntry] | None) -> str:
    """What became of the notices ``event`` caused (its outbox rows), for its timeline line:
    ``""`` once one was delivered (its ``notification_sent`` line follows), else
    ``(notification pending)``, ``(reminder scheduled)`` and the like, or ``(not notified)``.

    The event's ``notify`` flag only says the outbox should hear of it: no route may take it,
    some events have no kind of notice, and acknowledging cancels notices not sent yet. Only
    when the rows are gone (``notices`` None: deleted after the ticket's retention) is the flag
    all there is left to go by.
    """
    if event.type in DELIVERY_RECORDS:
        return ""
    if notices is None:
        return "" if event.notify else " (not notified)"
    statuses = {entry.status for entry in notices}
    if "delivered" in statuses:
        return ""
    if WAITING_STATUSES & statuses:
        return " (notification pending)"
    later = [entry.kind for entry in notices if entry.status == "scheduled"]
    if later:
        return f" ({', '.join(dict.fromkeys(later))} scheduled)"
    return " (not notified)"


def event_line(
    event: TicketEvent, zone: tzinfo | None, notices: Sequence[OutboxEntry] | None
) -> str:
    """One timeline line: time, type, actor, what a person needs to know, and whether anyone
    was told (``notices``: the outbox rows the event caused; None: no longer known)."""
    p = event.payload
    details = []
    if event.note:
        details.append(f'"{event.note}"')
    if "severity" in p and event.type.value in ("ticket_opened", "severity_raised"):
        details.append(f"severity {p['severity']}")
    if "dependent_check" in p:
        details.append(f"dependent check {p['dependent_check']}")
    if "percent_state_change" in p:
        details.append(f"{p['percent_state_change']:g}% state change")
    if p.get("summary") and event.type.value != "ticket_resolved":
        stage = f"[{p['stage']}] " if p.get("stage") else ""
        details.append(f"{stage}{p['summary']}")
    for kind, key in (
        ("sla_breached_response", "response_due"),
        ("sla_breached_resolution", "resolution_due"),
    ):
        if event.type.value == kind and (due_at := parse_instant(p.get(key))) is not None:
            details.append(f"{key.replace('_', ' ')} {local(due_at, zone)}")
    if (until := parse_instant(p.get("until"))) is not None:
        details.append(f"until {local(until, zone)}")
    text = ("; ".join(details) + notified(event, notices)).strip()
    return f"  {local(event.at, zone)}  {event.type.value:<24} {event.actor:<12} {text}".rstrip()

"""Test oracles: independent ways to compute what the code under test must produce.

``replay`` folds a timeline into the ticket it describes; a stored ticket must equal it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from mailwatch.domain.errors import TimelineError
from mailwatch.domain.tickets import Ticket
from mailwatch.domain.timeline import TicketEvent, apply


def replay(events: Iterable[TicketEvent]) -> Ticket:
    """The ticket a timeline describes; ``TimelineError`` when it describes none."""
    ticket: Ticket | None = None
    for event in events:
        ticket = apply(ticket, event)
    if ticket is None:
        raise TimelineError("the timeline has no ticket_opened event")
    return ticket


REPLAYED_FIELDS = tuple(f.name for f in fields(Ticket) if f.name != "last_summary")
"""Every ticket field except ``last_summary``, which each failed result refreshes without an
event (a line per result would drown the timeline)."""


def replayable(ticket: Ticket) -> dict[str, Any]:
    """The fields a replay must reproduce, for comparing a stored ticket with its timeline."""
    return {name: getattr(ticket, name) for name in REPLAYED_FIELDS}

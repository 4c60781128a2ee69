"""Which check states await confirmation (the scheduler's retries, ``retry_interval_s``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mailwatch.domain.checkstate import CheckState
from mailwatch.domain.tickets import Ticket, TicketStatus

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TICKET = Ticket(
    number=7,
    dedup_key="smtp-in:smtp-in",
    check="smtp-in",
    target="smtp-in",
    severity=2,
    status=TicketStatus.TRIGGERED,
    opened_at=NOW,
)


@pytest.mark.parametrize(
    ("fields", "awaits"),
    [
        ({}, False),  # never failed
        ({"bad_streak": 1}, True),  # failed once, no ticket yet: retry
        ({"bad_streak": 3}, True),
        ({"bad_streak": 2, "ticket": TICKET}, False),  # its ticket is open: back to interval_s
        ({"bad_streak": 2, "reported_to_parent": 4}, False),  # a parent's ticket explains it
        ({"good_streak": 1}, False),  # recovered
    ],
)
def test_awaits_confirmation(fields: dict[str, Any], awaits: bool) -> None:
    state = CheckState("smtp-in:smtp-in", "smtp-in", "smtp-in", **fields)
    assert state.awaits_confirmation is awaits

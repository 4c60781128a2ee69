"""How a ticket's SLA ended, as its root-cause pack says it: a table of tickets and verdicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from helpers.builders import T0, minutes
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.status.rca import sla_outcome

OPEN = Ticket(
    number=1,
    dedup_key="relay|x",
    check="relay",
    target="x",
    severity=1,
    status=TicketStatus.TRIGGERED,
    opened_at=T0,
    plan="gold",
    response_due=T0 + minutes(60),
    resolution_due=T0 + minutes(240),
)
RESOLVED = {"status": TicketStatus.RESOLVED, "resolved_at": T0 + minutes(90)}


@pytest.mark.parametrize(
    ("changes", "now", "response", "resolution"),
    [
        ({}, T0 + minutes(20), "running: due in 40 min", "running: due in 3 h 40 min"),
        ({}, T0 + minutes(75), "breached: overdue by 15 min", "running: due in 2 h 45 min"),
        (
            {"acknowledged_at": T0 + minutes(10), **RESOLVED},
            T0 + minutes(600),
            "met: responded 10 min after opening",
            "met: resolved 1 h 30 min after opening",
        ),
        (
            {"acknowledged_at": T0 + minutes(70), "response_breached": True},
            T0 + minutes(80),
            "breached: responded 1 h 10 min after opening, 10 min late",
            "running: due in 2 h 40 min",
        ),
        (
            {"mitigated_at": T0 + minutes(30), "status": TicketStatus.MITIGATED},
            T0 + minutes(300),
            "met: responded 30 min after opening",
            "met: mitigated 30 min after opening",
        ),
        (
            {**RESOLVED, "response_breached": True},
            T0 + minutes(600),
            "breached: resolved without an acknowledgement",
            "met: resolved 1 h 30 min after opening",
        ),
        (
            # Late, though no tick set the flag before the acknowledgement came.
            {"acknowledged_at": T0 + minutes(65)},
            T0 + minutes(65),
            "breached: responded 1 h 5 min after opening, 5 min late",
            "running: due in 2 h 55 min",
        ),
        (
            {"resolved_at": T0 + minutes(30), "status": TicketStatus.RESOLVED},
            T0 + minutes(600),
            "not acknowledged: resolved without an acknowledgement",
            "met: resolved 30 min after opening",
        ),
        (
            {"response_due": None, "resolution_due": None, "plan": None},
            T0,
            "no response target",
            "no resolution target",
        ),
        (
            {"resolution_breached": True},
            T0 + minutes(300),
            "breached: overdue by 4 h",
            "breached: overdue by 1 h",
        ),
    ],
)
def test_how_the_sla_ended(
    changes: dict[str, object], now: datetime, response: str, resolution: str
) -> None:
    outcome = sla_outcome(replace(OPEN, **changes), now)  # type: ignore[arg-type]
    assert (outcome.response_text, outcome.resolution_text) == (response, resolution)

"""The engine's memory of one check and target between results, and its JSON form.

The open ticket is not part of the JSON: the tickets table is its one home, and the
processor loads it into ``CheckState.ticket`` before calling the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mailwatch.domain.results import State
from mailwatch.domain.tickets import Ticket
from mailwatch.domain.time import iso, parse_instant

STATE_FORMAT = 1
"""Bumped when the JSON below changes shape; older shapes are converted in ``from_json``."""


@dataclass(frozen=True, slots=True)
class CheckState:
    """Streaks, flap history and ticket links of one dedup key.

    ``held`` is True while the open ticket has news nobody was told (a maintenance window, a
    silence or flapping held it back); the end of the quiet period re-announces the ticket.
    ``reported_to_parent`` is the parent ticket whose timeline already has this check's
    failure, so a dependent check writes there once per failure, not once per result.
    """

    dedup_key: str
    check: str
    target: str
    history: tuple[State, ...] = ()
    bad_streak: int = 0
    good_streak: int = 0
    failing_since: datetime | None = None
    flapping: bool = False
    flap_percent: float = 0.0
    ticket: Ticket | None = None
    last_ticket: int | None = None
    reported_to_parent: int | None = None
    held: bool = False
    results_seen: int = 0
    last_result_at: datetime | None = None

    @property
    def awaits_confirmation(self) -> bool:
        """The last result failed and no ticket holds the failure yet: neither the check's own
        nor a ``depends_on`` parent's. The scheduler runs such a check again after its
        ``retry_interval_s`` rather than its ``interval_s``, to confirm the failure sooner."""
        return self.bad_streak > 0 and self.ticket is None and self.reported_to_parent is None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "format": STATE_FORMAT,
            "history": [int(state) for state in self.history],
            "bad_streak": self.bad_streak,
            "good_streak": self.good_streak,
            "failing_since": iso(self.failing_since),
            "flapping": self.flapping,
            "flap_percent": self.flap_percent,
            "last_ticket": self.last_ticket,
            "reported_to_parent": self.reported_to_parent,
            "held": self.held,
            "results_seen": self.results_seen,
            "last_result_at": iso(self.last_result_at),
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(
        cls, dedup_key: str, check: str, target: str, text: str, ticket: Ticket | None
    ) -> CheckState:
        data = json.loads(text)
        return cls(
            dedup_key=dedup_key,
            check=check,
            target=target,
            history=tuple(State(value) for value in data["history"]),
            bad_streak=int(data["bad_streak"]),
            good_streak=int(data["good_streak"]),
            failing_since=parse_instant(data["failing_since"]),
            flapping=bool(data["flapping"]),
            flap_percent=float(data["flap_percent"]),
            ticket=ticket,
            last_ticket=data["last_ticket"],
            reported_to_parent=data["reported_to_parent"],
            held=bool(data["held"]),
            results_seen=int(data["results_seen"]),
            last_result_at=parse_instant(data["last_result_at"]),
        )

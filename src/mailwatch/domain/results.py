"""The one shape every check returns: a state, a summary a person can act on, a failure stage.

Results are plain data; the CLI, the incident engine and the status file all read this shape.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class State(enum.IntEnum):
    """Check states; the values are the Nagios plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def badness(self) -> int:
        """Rank for "worst of": critical > unknown > warning > ok.

        Unknown ranks above warning because a check that cannot tell may hide an outage.
        """
        return _BADNESS[self]


_BADNESS = {State.OK: 0, State.WARNING: 1, State.UNKNOWN: 2, State.CRITICAL: 3}


def worst(states: Iterable[State]) -> State:
    """The worst of some states; ok when there are none."""
    return max(states, key=lambda s: s.badness, default=State.OK)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one run of one check found.

    ``stage`` names what broke (``smtp_connect``, ``not_delivered``, ...) and is None when ok.
    ``metrics`` carry units in their names (``latency_s``, ``free_bytes``).
    ``details`` hold structured extras (Received hops, per-host findings), JSON-serialisable.
    """

    check: str
    kind: str
    target: str
    state: State
    summary: str
    started_at: datetime
    finished_at: datetime
    stage: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "kind": self.kind,
            "target": self.target,
            "state": self.state.label,
            "stage": self.stage,
            "summary": self.summary,
            "metrics": dict(self.metrics),
            "details": dict(self.details),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(self.duration_s, 3),
        }

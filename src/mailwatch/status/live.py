"""What the daemon knows about one check between results: the live record a snapshot freezes.

The daemon keeps one per configured check and feeds it every result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailwatch.domain.results import CheckResult, State


@dataclass
class CheckStatus:
    """What the daemon knows about one check between results."""

    name: str
    kind: str
    target: str
    state: State = State.UNKNOWN
    summary: str = "not run yet"
    stage: str | None = None
    since: datetime | None = None
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def record(self, result: CheckResult) -> bool:
        """Take a new result; True when the state changed."""
        changed = result.state is not self.state or self.last_run_at is None
        if changed:
            self.since = result.finished_at
        self.state = result.state
        self.summary = result.summary
        self.stage = result.stage
        self.last_run_at = result.finished_at
        if result.state is State.OK:
            self.last_ok_at = result.finished_at
        self.metrics = dict(result.metrics)
        return changed

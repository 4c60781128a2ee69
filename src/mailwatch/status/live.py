"""What the daemon knows about one check between results: the live record a snapshot freezes.

The daemon keeps one per configured check and feeds it every result it runs, and, before each
snapshot, the cluster's last stored result of the check (``catch_up``), whichever node ran it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mailwatch.domain.results import CheckResult, State
from mailwatch.store.checks import LatestResult


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
    node: str | None = None
    """The node that ran the last result (None before the first, or when nobody recorded it)."""
    site: str | None = None
    """That node's site."""

    def record(
        self,
        result: CheckResult,
        node: str | None = None,
        site: str | None = None,
        *,
        since: datetime | None = None,
    ) -> bool:
        """Take a new result (run by ``node`` at ``site``); True when the state changed.
        ``since`` is when the state began, when known better than the result's end (the
        stored failure streak's start, for a check first seen failing)."""
        changed = result.state is not self.state or self.last_run_at is None
        if changed:
            first = since is not None and self.last_run_at is None
            self.since = since if first else result.finished_at
        self.node = node
        self.site = site
        self.state = result.state
        self.summary = result.summary
        self.stage = result.stage
        self.last_run_at = result.finished_at
        if result.state is State.OK:
            self.last_ok_at = result.finished_at
        self.metrics = dict(result.metrics)
        return changed

    def catch_up(self, latest: LatestResult) -> bool:
        """Take the cluster's last stored result of the check if it is newer than the last one
        recorded here (another node ran it, or this node's own came back from the store);
        True when it was newer."""
        result = latest.result
        if self.last_run_at is not None and result.finished_at <= self.last_run_at:
            return False
        since = latest.failing_since if result.state is not State.OK else None
        self.record(result, latest.node, latest.site, since=since)
        return True

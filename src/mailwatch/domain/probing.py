"""A probe's run: the context it reports progress in, and how it turns findings into a result.

Shared by the probes and the protocol clients they use: a protocol client sets ``ctx.stage``
before each step, so a timeout names the step that hung.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.results import CheckResult, State


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found; ``ProbeContext.concluded`` makes a result of several."""

    state: State
    stage: str
    message: str


@dataclass
class ProbeContext:
    """Per-run facts for a probe, and the place it reports progress.

    ``memory`` survives between runs of the same check in the daemon (growth rates, learned
    deadlines); a one-shot ``mailwatch check`` starts it empty. It holds JSON values only
    (str, numbers, lists, dicts): the daemon keeps it in the database, so the node that takes
    a check over continues where the last one stopped.
    """

    check: str
    kind: str
    target: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stage: str | None = None
    peer: str | None = None
    """``HOST:PORT`` the probe is talking to, set with ``stage``, so a timeout names it."""
    memory: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None
    """``loop.time()`` when the caller's timeout cuts the probe off."""
    confirming: bool = False
    """This run confirms a failure that no ticket holds yet (the daemon's confirmation retry)."""
    vantage: NodeIdentity | None = None
    """The node and site running a check that several sites run (``run_from``), None
    otherwise: what such a run leaves behind (a canary) carries them, and it cleans up its
    own site's leftovers only."""

    def timed_out(self) -> bool:
        """Inside a cancellation: was it the caller's timeout (True) or a shutdown (False)?"""
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline

    def result(
        self,
        state: State,
        summary: str,
        *,
        stage: str | None = None,
        metrics: Mapping[str, float] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        return CheckResult(
            check=self.check,
            kind=self.kind,
            target=self.target,
            state=state,
            summary=summary,
            stage=stage,
            metrics=dict(metrics or {}),
            details=dict(details or {}),
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
        )

    def concluded(
        self,
        findings: Sequence[Finding],
        *,
        metrics: Mapping[str, float] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> CheckResult:
        """The result of one or more findings: the worst state and its stage, every message
        (worst first)."""
        ordered = sorted(findings, key=lambda f: -f.state.badness)
        return self.result(
            ordered[0].state,
            "; ".join(f.message for f in ordered),
            stage=ordered[0].stage,
            metrics=metrics,
            details=details,
        )

    def failed(self, failure: ProbeFailure, **details: Any) -> CheckResult:
        if failure.reply is not None:
            details = {**details, "server_reply": failure.reply}
        return self.result(
            failure.state,
            failure.summary,
            stage=failure.stage,
            metrics=failure.metrics,
            details=details,
        )

"""What a probe is: one async function per check kind, all with one signature.

The caller owns the deadline (see ``mailwatch.runner``); a probe reports what it is doing in
``ctx.stage`` so that a timeout names the step that hung.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from mailwatch.config.checks import CheckBase
from mailwatch.result import CheckResult, State

C = TypeVar("C", bound=CheckBase)


class ProbeFailure(Exception):
    """Raised inside a probe to end it with a failed result.

    Each protocol module turns its library's exceptions into this at one boundary.
    """

    def __init__(
        self,
        stage: str,
        summary: str,
        state: State = State.CRITICAL,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(summary)
        self.stage = stage
        self.summary = summary
        self.state = state
        self.metrics = dict(metrics or {})


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
    deadlines); a one-shot ``mailwatch check`` starts it empty.
    """

    check: str
    kind: str
    target: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stage: str | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None
    """``loop.time()`` when the caller's timeout cuts the probe off."""

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
        return self.result(
            failure.state,
            failure.summary,
            stage=failure.stage,
            metrics=failure.metrics,
            details=details,
        )


ProbeFunction = Callable[[C, ProbeContext], Awaitable[CheckResult]]


@dataclass(frozen=True)
class ProbeSpec(Generic[C]):
    """A check kind: its config model, its probe, and what a timeout means for it."""

    kind: str
    config: type[C]
    probe: ProbeFunction[C]
    timeout_state: State = State.CRITICAL

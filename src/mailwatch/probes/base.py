"""What a probe is: one async function per check kind, all with one signature.

The caller owns the deadline (see ``mailwatch.runner``); a probe reports what it is doing in
``ctx.stage`` so that a timeout names the step that hung.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mailwatch.config.checks import CheckBase
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State

C = TypeVar("C", bound=CheckBase)


ProbeFunction = Callable[[C, ProbeContext], Awaitable[CheckResult]]


@dataclass(frozen=True)
class ProbeSpec(Generic[C]):
    """A check kind: its config model, its probe, and what a timeout means for it."""

    kind: str
    config: type[C]
    probe: ProbeFunction[C]
    timeout_state: State = State.CRITICAL

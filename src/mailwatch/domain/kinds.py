"""What a check kind declares beside its config: which failures are how urgent, which number
an alert shows, and the stages every kind shares.

Each kind's declaration (``mailwatch.config.checks.<kind>``) fills these in; the incident
engine and the alert messages read them from there.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from mailwatch.domain.results import State

ANY = "*"
"""A severity rule's stage that matches every stage (and none)."""

CRITICAL_ONLY: tuple[State, ...] = (State.CRITICAL,)
FAILING: tuple[State, ...] = (State.WARNING, State.CRITICAL, State.UNKNOWN)


class SharedStage(enum.StrEnum):
    """Stages a result of any kind may carry: the runner names them, not the probe."""

    TIMEOUT = "timeout"
    """The probe was cut off before it named a stage of its own."""
    INTERNAL = "internal"
    """The probe raised: a bug, reported as unknown with the exception."""


@dataclass(frozen=True, slots=True)
class SeverityRule:
    """One row of a kind's severity table: a failure in one of ``stages`` (or ``ANY``) with
    one of ``states`` opens a ticket of ``severity``; ``why`` says it in words."""

    stages: tuple[str, ...]
    states: tuple[State, ...]
    severity: int
    why: str

    def matches(self, stage: str | None, state: State) -> bool:
        return (ANY in self.stages or (stage or "") in self.stages) and state in self.states


@dataclass(frozen=True, slots=True)
class KeyFigure:
    """A metric an alert may show as the one number worth reading: ``latency 93.2 s``.

    ``only_if_nonzero``: a count that says nothing at zero (``late canaries 0``) is left out.
    """

    metric: str
    label: str
    unit: str = ""
    only_if_nonzero: bool = False

    def hides(self, metrics: Mapping[str, float]) -> bool:
        """Whether this figure's metric is to be left out of ``metrics`` altogether."""
        return self.only_if_nonzero and self.metric in metrics and not metrics[self.metric]

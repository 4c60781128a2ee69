"""Escalation ladders as instants: which notice of a ticket's ladder is due when.

Pure arithmetic on aware datetimes. Every notice gets an absolute due time when the ticket
opens, so the outbox rows in the database are the ladder and a restart resumes it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from mailwatch.domain.notices import NoticeKind

if TYPE_CHECKING:
    from mailwatch.config.escalation import EscalationPolicyConfig, EscalationStepConfig
    from mailwatch.config.model import MailwatchConfig


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One rung of a ladder: ``after`` the start, to ``routes`` (None: every route whose
    filters match), then ``repeat`` more times every ``repeat_every``."""

    after: timedelta
    routes: tuple[str, ...] | None = None
    repeat_every: timedelta | None = None
    repeat: int = 0

    @classmethod
    def from_config(cls, step: EscalationStepConfig) -> EscalationStep:
        routes = tuple(step.routes) if step.routes is not None else None
        return cls(step.after, routes, step.repeat_every, step.repeat)


@dataclass(frozen=True, slots=True)
class PlannedNotice:
    """One notice of a ladder: ``step`` counts from 1, ``repeat`` 0 is the step's first."""

    step: int
    repeat: int
    due_at: datetime
    routes: tuple[str, ...] | None

    @property
    def kind(self) -> NoticeKind:
        """The first notice of the first step announces the ticket; the rest escalate."""
        return NoticeKind.OPENED if (self.step, self.repeat) == (1, 0) else NoticeKind.ESCALATION


DEFAULT_LADDER: tuple[EscalationStep, ...] = (EscalationStep(timedelta(0)),)
"""Without ``[escalation]``: every matching route at once, no repeats."""


def ladder_for(config: MailwatchConfig, severity: int) -> tuple[EscalationStep, ...]:
    """The ladder of ``severity``: ``[escalation.sevN]``, else ``[escalation.default]``,
    else ``DEFAULT_LADDER``."""
    policies: dict[str, EscalationPolicyConfig] = {str(k): v for k, v in config.escalation.items()}
    policy = policies.get(f"sev{severity}") or policies.get("default")
    if policy is None:
        return DEFAULT_LADDER
    return tuple(EscalationStep.from_config(step) for step in policy.steps)


def ladder_notices(steps: Sequence[EscalationStep], start: datetime) -> list[PlannedNotice]:
    """Every notice of the ladder started at ``start``, in due order (steps before their
    repeats on a tie)."""
    notices = []
    for number, step in enumerate(steps, start=1):
        first = start + step.after
        notices.append(PlannedNotice(number, 0, first, step.routes))
        for repeat in range(1, step.repeat + 1):
            assert step.repeat_every is not None
            due = first + step.repeat_every * repeat
            notices.append(PlannedNotice(number, repeat, due, step.routes))
    return sorted(notices, key=lambda n: (n.due_at, n.step, n.repeat))

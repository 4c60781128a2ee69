"""What a check kind declares beside its config: which failures are how urgent, which number
an alert shows, and the stages every kind shares.

Each kind's declaration (``mailwatch.config.checks.<kind>``) fills these in; the incident
engine and the alert messages read them from there.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

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


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class Figure:
    """A number a kind's results carry, and the Prometheus metric it becomes.

    ``key`` is the result's metric key; a ``{label}`` in it stands for the part that varies
    (``disk_{mount}_percent``) and becomes a label of the metric. ``name`` is the metric's name
    after ``mailwatch_<kind>_``, its unit last (``seconds``, ``bytes``, ``percent``,
    ``timestamp_seconds``); a ``counter`` (its name ending in ``_total``) adds up each result's
    value. ``name=None`` keeps the figure out of the metrics, and ``help`` says why.
    """

    key: str
    name: str | None
    help: str
    counter: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = _PLACEHOLDER.split(self.key)
        # split() alternates literal text and placeholder names: text, name, text, ...
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
        )
        object.__setattr__(self, "_pattern", re.compile(regex))

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels the key's placeholders become, in order."""
        return tuple(_PLACEHOLDER.findall(self.key))

    def match(self, key: str) -> dict[str, str] | None:
        """The label values when ``key`` is this figure's, else None."""
        found = self._pattern.fullmatch(key)
        return None if found is None else found.groupdict()

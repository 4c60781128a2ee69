"""What every check shares whatever its kind (``CheckBase``), and what a kind declares about
itself (``CheckKind``): one such declaration per kind, listed in ``registry``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints

from mailwatch.config.base import StrictModel
from mailwatch.domain.kinds import Figure, KeyFigure, SeverityRule
from mailwatch.domain.results import State

CheckName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""Check names go into mail headers, ticket keys and file names: keep them plain."""


class CheckBase(StrictModel):
    """One configured check. Subclasses set ``kind`` and say what they look at in ``target``."""

    kind: ClassVar[str]

    name: CheckName
    enabled: bool = True
    interval_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    severity: int | None = Field(default=None, ge=1, le=4)
    depends_on: list[CheckName] = Field(default_factory=list)
    plan: str | None = None
    tags: list[str] = Field(default_factory=list)
    runbook: str | None = None

    @property
    def target(self) -> str:
        """What the check looks at, for people and for ticket de-duplication."""
        return self.name


@dataclass(frozen=True, slots=True)
class CheckKind:
    """One check kind, everything about it in one place.

    ``config`` is the pydantic type of one ``[[checks.<name>]]`` entry (a model, or an
    annotated union of models told apart by a key such as ``protocol``). ``stages`` lists
    every stage its results may carry. ``severity`` rows are tried before the generic ones
    of ``mailwatch.incidents.severity``; ``figures`` are the metrics an alert shows, in order
    of preference. ``probe`` is the dotted path of the module whose ``probe`` function runs
    the check, imported on first use so that a ``mailwatch check`` loads only what it runs.
    ``timeout_state`` is the state of a run cut off by its timeout. ``exported`` declares
    every metric key its results carry and the Prometheus metric each becomes
    (``mailwatch.daemon.metrics`` builds its families from these declarations alone).
    """

    name: str
    config: Any
    stages: type[enum.StrEnum]
    probe: str
    severity: tuple[SeverityRule, ...] = ()
    figures: tuple[KeyFigure, ...] = ()
    timeout_state: State = State.CRITICAL
    exported: tuple[Figure, ...] = ()

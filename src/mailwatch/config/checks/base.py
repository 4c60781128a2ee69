"""What every check shares whatever its kind (``CheckBase``), and what a kind declares about
itself (``CheckKind``): one such declaration per kind, listed in ``registry``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.domain.kinds import Figure, KeyFigure, SeverityRule
from mailwatch.domain.results import State

CheckName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""Check names go into mail headers, ticket keys and file names: keep them plain."""

DEFAULT_RETRY_INTERVAL_S = 10.0
"""The confirmation retry when ``retry_interval_s`` is not set (or ``interval_s``, if shorter).

Longer than a service restart takes (a Postfix or Dovecot restart is over in a second or
two), so a restart's one failed run is followed by a good one and opens nothing; short enough
that ``open_after = 2`` confirms a real outage within about 10 s of its first failed run,
whatever the interval. It costs ``open_after - 1`` extra runs per failure, no more.
"""


class CheckBase(StrictModel):
    """One configured check. Subclasses set ``kind`` and say what they look at in ``target``."""

    kind: ClassVar[str]

    name: CheckName
    enabled: bool = True
    interval_s: float = Field(default=60.0, gt=0)
    retry_interval_s: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    severity: int | None = Field(default=None, ge=1, le=4)
    depends_on: list[CheckName] = Field(default_factory=list)
    plan: str | None = None
    tags: list[str] = Field(default_factory=list)
    runbook: str | None = None

    @model_validator(mode="after")
    def _retry_not_longer_than_interval(self) -> CheckBase:
        # A retry later than the next regular run would never happen: say so at load time.
        if self.retry_interval_s is not None and self.retry_interval_s > self.interval_s:
            raise ValueError(
                f"retry_interval_s ({self.retry_interval_s:g}) must not be longer than "
                f"interval_s ({self.interval_s:g})"
            )
        return self

    @property
    def confirm_interval_s(self) -> float:
        """Start to start, the wait before the next run while a failure awaits its ticket:
        ``retry_interval_s``, by default ``DEFAULT_RETRY_INTERVAL_S`` or ``interval_s`` if
        shorter."""
        if self.retry_interval_s is not None:
            return self.retry_interval_s
        return min(self.interval_s, DEFAULT_RETRY_INTERVAL_S)

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

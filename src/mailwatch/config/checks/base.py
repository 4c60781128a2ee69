"""What every check shares whatever its kind (``CheckBase``), and what a kind declares about
itself (``CheckKind``): one such declaration per kind, listed in ``registry``."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, field_validator, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.domain.kinds import Figure, KeyFigure, SeverityRule
from mailwatch.domain.results import State

CheckName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""Check names go into mail headers, ticket keys and file names: keep them plain."""

SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
"""A site (``[node] site``) goes into canary headers and metric labels: as plain as a check."""

ALL_SITES = "all"
"""``run_from = "all"``: every site that runs mailwatch runs the check."""

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
    run_from: list[str] | str | None = None
    quorum: int | None = Field(default=None, ge=1)

    @field_validator("run_from")
    @classmethod
    def _sites_listed_once(cls, value: list[str] | str | None) -> list[str] | str | None:
        # Checked here rather than by the type: a union's errors would name its branches.
        if isinstance(value, str):
            if value != ALL_SITES:
                raise ValueError(f'run_from is {value!r}: a list of sites, or "all"')
            return value
        if isinstance(value, list):
            plain = [site for site in value if not SITE_NAME.match(site)]
            if plain:
                raise ValueError(
                    f"run_from: site {plain[0]!r} is not a plain name (letters, digits, . _ -)"
                )
            if not value:
                raise ValueError('run_from lists no site: name at least one, or "all"')
            repeated = sorted({site for site in value if value.count(site) > 1})
            if repeated:
                raise ValueError(f"run_from names a site twice: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _quorum_within_sites(self) -> CheckBase:
        # A quorum larger than the sites listed could never be met: no ticket would ever open.
        if self.quorum is not None:
            if self.run_from is None:
                raise ValueError("quorum needs run_from: the sites whose results vote")
            if isinstance(self.run_from, list) and self.quorum > len(self.run_from):
                raise ValueError(
                    f"quorum ({self.quorum}) must be 1 to the number of sites in run_from "
                    f"({len(self.run_from)})"
                )
        return self

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
    def votes(self) -> bool:
        """Whether several sites run the check and vote (``run_from`` is set)."""
        return self.run_from is not None

    def runs_at(self, site: str | None) -> bool:
        """Whether a node of ``site`` runs the check: every node when ``run_from`` is unset
        (the ``[node]`` leases then pick one) or ``"all"``, else the listed sites'."""
        if self.run_from is None or self.run_from == ALL_SITES:
            return True
        return site is not None and site in self.run_from

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

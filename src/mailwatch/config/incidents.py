"""The ``[incidents]`` section: when a ticket opens and resolves, flapping, ticket numbers.

Validation only; the state machine is ``mailwatch.incidents.engine``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.config.checks import CheckName
from mailwatch.domain.time import load_zone

TicketPrefix = Annotated[
    str, StringConstraints(pattern=r"^(?:[A-Za-z][A-Za-z0-9]{0,15}-|[A-Za-z]{1,16})$")
]
"""Letters (and digits) before an optional dash: the number that follows must stay readable,
so a prefix may not end in a digit."""


class IncidentOverride(StrictModel):
    """Per-check replacements for the thresholds of ``[incidents]``."""

    open_after: int | None = Field(default=None, ge=1, le=1000)
    open_after_s: float | None = Field(default=None, gt=0)
    resolve_after: int | None = Field(default=None, ge=1, le=1000)


class IncidentsConfig(StrictModel):
    """Ticket policy for every check; ``overrides.NAME`` changes it for one check."""

    open_after: int = Field(default=2, ge=1, le=1000)
    open_after_s: float | None = Field(default=None, gt=0)
    resolve_after: int = Field(default=2, ge=1, le=1000)
    flap_high_percent: float = Field(default=50.0, gt=0, le=100)
    flap_low_percent: float = Field(default=25.0, ge=0, lt=100)
    ticket_prefix: TicketPrefix = "MW-"
    default_plan: str | None = None
    result_retention: int = Field(default=500, ge=1)
    timezone: str | None = None
    overrides: dict[CheckName, IncidentOverride] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            load_zone(value)
        return value

    @model_validator(mode="after")
    def _hysteresis(self) -> IncidentsConfig:
        # Without a gap between the thresholds a check near the line would start and stop
        # flapping on alternate results, which is the noise flap detection exists to remove.
        if self.flap_low_percent >= self.flap_high_percent:
            raise ValueError(
                f"flap_low_percent ({self.flap_low_percent:g}) must be below "
                f"flap_high_percent ({self.flap_high_percent:g})"
            )
        return self


def check_incident_references(
    incidents: IncidentsConfig, plans: Mapping[str, object], check_names: Collection[str]
) -> None:
    """Raise ``ValueError`` for a default plan or an override naming nothing defined."""
    if incidents.default_plan is not None and incidents.default_plan not in plans:
        defined = ", ".join(repr(name) for name in plans) or "none"
        raise ValueError(
            f"incidents.default_plan names unknown plan {incidents.default_plan!r} "
            f"(defined plans: {defined})"
        )
    unknown = sorted(name for name in incidents.overrides if name not in check_names)
    if unknown:
        raise ValueError(f"incidents.overrides names unknown check(s): {', '.join(unknown)}")

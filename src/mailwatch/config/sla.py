"""Config sections for SLA clocks: ``[calendars.NAME]`` and ``[plans.NAME]``.

Validation only, with messages an operator can act on; the arithmetic is ``mailwatch.sla``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mailwatch.config.base import StrictModel
from mailwatch.domain.time import load_zone
from mailwatch.sla.calendar import DailyHours, check_holiday_source
from mailwatch.sla.deadlines import SEVERITIES
from mailwatch.sla.durations import SlaDuration

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _parse_duration(value: object) -> SlaDuration:
    if isinstance(value, SlaDuration):
        return value
    if not isinstance(value, str):
        raise ValueError(f'a duration must be a string such as "4h" or "4bh", got {value!r}')
    return SlaDuration.parse(value)


Duration = Annotated[
    SlaDuration,
    PlainValidator(_parse_duration),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+(m|h|d|bh|bd)$"}),
]
"""``30m``, ``4h``, ``1d`` on the wall clock; ``4bh``, ``1bd`` on the plan's calendar."""


class HolidaySource(StrictModel):
    """Public holidays from the ``holidays`` package: ``{ country = "US", subdiv = "NY" }``."""

    country: str
    subdiv: str | None = None

    @model_validator(mode="after")
    def _known_to_holidays_package(self) -> HolidaySource:
        check_holiday_source(self.country, self.subdiv)
        return self


class BusinessCalendarConfig(StrictModel):
    """When a vendor's desk is open: weekdays, daily hours, holidays, extra closed dates."""

    timezone: str
    days: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: str
    holidays: HolidaySource | None = None
    closed: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("days")
    @classmethod
    def _some_days_once_each(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("a calendar needs at least one working day")
        repeated = sorted({day for day in value if value.count(day) > 1})
        if repeated:
            raise ValueError(f"days listed more than once: {', '.join(repeated)}")
        return value

    @field_validator("hours")
    @classmethod
    def _well_formed_hours(cls, value: str) -> str:
        DailyHours.parse(value)
        return value


class SlaTarget(StrictModel):
    """One severity's promises.

    ``response_off_hours`` replaces ``response`` for a ticket opened outside business
    hours. The resolution clock starts at acknowledgement, or at the response
    deadline while unacknowledged; with no ``response`` it starts only at
    acknowledgement (SophiMail counts resolution "after the Initial Response").
    """

    response: Duration | None = None
    response_off_hours: Duration | None = None
    resolution: Duration | None = None

    @model_validator(mode="after")
    def _promises_something(self) -> SlaTarget:
        if self.response_off_hours is not None and self.response is None:
            raise ValueError(
                "response_off_hours replaces response outside business hours, "
                "so response must be set too"
            )
        if self.response is None and self.resolution is None:
            raise ValueError("a severity target needs a response or a resolution duration")
        return self


class SlaPlanConfig(StrictModel):
    """A vendor's support plan: the calendar its clocks run on and a target per severity."""

    calendar: str
    sev1: SlaTarget | None = None
    sev2: SlaTarget | None = None
    sev3: SlaTarget | None = None
    sev4: SlaTarget | None = None

    @model_validator(mode="after")
    def _has_a_target(self) -> SlaPlanConfig:
        if all(self.target(severity) is None for severity in SEVERITIES):
            raise ValueError("a plan needs a target for at least one severity (sev1 .. sev4)")
        return self

    def target(self, severity: int) -> SlaTarget | None:
        """The target for ``severity`` (1..4), or None when the plan promises nothing."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be 1, 2, 3 or 4, got {severity}")
        targets = (self.sev1, self.sev2, self.sev3, self.sev4)
        return targets[severity - 1]


def check_plan_references(
    calendars: dict[str, BusinessCalendarConfig], plans: dict[str, SlaPlanConfig]
) -> None:
    """Raise ``ValueError`` naming every plan whose calendar is not defined."""
    problems = [
        f"plan {name!r} uses calendar {plan.calendar!r}, which is not defined"
        for name, plan in plans.items()
        if plan.calendar not in calendars
    ]
    if problems:
        defined = ", ".join(repr(name) for name in calendars) or "none"
        raise ValueError(f"{'; '.join(problems)} (defined calendars: {defined})")

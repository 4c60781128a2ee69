"""Config sections for escalation: ``[escalation.sevN]`` / ``[escalation.default]`` ladders,
``[reminders]``, and ``[outbox]`` (retries, fallback, give-up, grouping, polling, retention).

Validation only; the ladder arithmetic is ``mailwatch.alerts.ladder``, the sender
``mailwatch.alerts.sender``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from mailwatch.config.base import StrictModel
from mailwatch.domain.time import parse_duration

MAX_WALL_DURATION = timedelta(days=60)


def parse_wall_duration(value: object) -> timedelta:
    """``0``, ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m``: wall-clock time
    (``mailwatch.domain.time.parse_duration``), never business hours (a ladder wakes people
    at night too), at most ``MAX_WALL_DURATION``."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f'a duration must be a string such as "15m" or "2h", got {value!r}')
    try:
        total = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"invalid duration {value!r}: use whole numbers with units s, m, h or d, "
            'e.g. "0m", "90s", "15m", "4h" or "1h30m" (wall clock; no business units here)'
        ) from None
    if total > MAX_WALL_DURATION:
        raise ValueError(f"invalid duration {value!r}: at most {MAX_WALL_DURATION.days} days")
    return total


def format_wall_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0m"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out


WallDuration = Annotated[
    timedelta,
    PlainValidator(parse_wall_duration),
    PlainSerializer(format_wall_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^(0|([0-9]+[smhdw])+)$"}),
]
"""A wall-clock duration as operators write it: ``0m``, ``90s``, ``15m``, ``1h30m``."""

MAX_REPEATS = 100
"""Every notice of a ladder is a row scheduled when the ticket opens; repeats are bounded so a
ladder stays a short list (100 repeats every 5 min is more than eight hours of paging)."""


class EscalationStepConfig(StrictModel):
    """One rung: ``after`` the ticket opened, notify ``routes`` (all matching routes when
    omitted), then again every ``repeat_every``, at most ``repeat`` more times."""

    after: WallDuration
    routes: list[str] | None = None
    repeat_every: WallDuration | None = None
    repeat: int = Field(default=0, ge=0, le=MAX_REPEATS)

    @model_validator(mode="after")
    def _repeat_needs_interval(self) -> EscalationStepConfig:
        if self.repeat and self.repeat_every is None:
            raise ValueError(f'repeat = {self.repeat} needs repeat_every (e.g. "10m")')
        if self.repeat_every is not None and self.repeat_every <= timedelta(0):
            raise ValueError("repeat_every must be longer than zero")
        if self.repeat_every is not None and not self.repeat:
            raise ValueError("repeat_every without repeat: say how many times (repeat = 6)")
        if self.routes is not None and not self.routes:
            raise ValueError("routes is empty, so the step would notify nobody; omit it")
        return self


class EscalationPolicyConfig(StrictModel):
    """``[escalation.sev1]``: the ladder of a severity. The first step announces the ticket;
    later steps (and every repeat) are escalations that acknowledging, resolving or a
    maintenance window stop."""

    steps: list[EscalationStepConfig] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _increasing(self) -> EscalationPolicyConfig:
        for before, step in zip(self.steps, self.steps[1:], strict=False):
            if step.after <= before.after:
                raise ValueError(
                    f"step after = {format_wall_duration(step.after)} must come later than "
                    f"the step before it ({format_wall_duration(before.after)})"
                )
        return self


PolicyName = Literal["default", "sev1", "sev2", "sev3", "sev4"]


class RemindersConfig(StrictModel):
    """``[reminders]``: a reminder this long before an acknowledged ticket's resolution
    deadline (unset: none). The breach itself is announced by the breach notice."""

    before_resolution_due: WallDuration | None = timedelta(minutes=30)


class OutboxConfig(StrictModel):
    """``[outbox]``: how the sender retries, falls back and groups, and how long it keeps
    finished rows. The time one attempt may take is ``[alerts] timeout_s``."""

    retry_initial_s: float = Field(default=10.0, gt=0, le=3600)
    retry_max_s: float = Field(default=600.0, gt=0, le=86400)
    fallback_after_attempts: int = Field(default=3, ge=1, le=100)
    give_up_after_s: float = Field(default=86400.0, gt=0)
    group_wait_s: float = Field(default=30.0, ge=0, le=600)
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_parallel: int = Field(default=10, ge=1, le=100)
    retention_days: int = Field(default=30, ge=1, le=3650)
    """Delivered, given-up and cancelled rows of a resolved ticket are deleted this long after
    the ticket resolved; the ticket's timeline keeps every attempt."""
    max_interrupted_resends: int = Field(default=1, ge=0, le=10)
    """How many times a notice whose attempt was cut off (the daemon killed mid-send) is sent
    again; past that it is ``uncertain`` and never sent again. A notice reaches its receiver
    at most 1 + this many times through interruptions."""

    @model_validator(mode="after")
    def _ordered(self) -> OutboxConfig:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s:g}) must not be below retry_initial_s "
                f"({self.retry_initial_s:g})"
            )
        return self


def check_escalation_references(
    escalation: Mapping[PolicyName, EscalationPolicyConfig], routes: Collection[str]
) -> None:
    """Raise ``ValueError`` for a step naming a route nobody defined."""
    defined = ", ".join(repr(name) for name in routes) or "none"
    for policy_name, policy in escalation.items():
        for index, step in enumerate(policy.steps):
            for route in step.routes or []:
                if route not in routes:
                    raise ValueError(
                        f"escalation.{policy_name}.steps[{index}].routes names unknown route "
                        f"{route!r} (defined routes: {defined})"
                    )

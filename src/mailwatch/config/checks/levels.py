"""Warning and critical levels, shared by the kinds that judge figures (resources, queue):
the config value that may be ``"off"``, a pair of levels, and a figure's state against them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from mailwatch.domain.results import State


def _off_is_none(value: object) -> object:
    # TOML has no null: a level is switched off with the string "off".
    return None if value == "off" else value


Level = Annotated[
    Annotated[float, Field(ge=0)] | None,
    BeforeValidator(
        _off_is_none,
        # What the file may hold, for ``mailwatch schema``: a number or "off" (TOML has no null).
        json_schema_input_type=Annotated[float, Field(ge=0)] | Literal["off"],
    ),
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Warning and critical levels for one figure; None switches that level off.

    A reading that reaches a level counts: 85 % used with ``warning = 85`` is a warning;
    for ``disk_free`` (lower is worse) 1 GiB free with ``warning = 1 GiB`` is a warning.
    """

    warning: float | None = None
    critical: float | None = None


def classify(value: float, limits: Limits, lower_is_worse: bool = False) -> State:
    """The state of one figure against its limits."""

    def reached(level: float | None) -> bool:
        if level is None or math.isnan(value):
            return False
        return value <= level if lower_is_worse else value >= level

    if reached(limits.critical):
        return State.CRITICAL
    if reached(limits.warning):
        return State.WARNING
    return State.OK

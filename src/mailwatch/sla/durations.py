"""SLA durations as operators write them: ``30m``, ``4h``, ``1d``, ``4bh``, ``1bd``.

Parsing only; what a duration means on a business calendar lives in ``deadlines``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

MAX_AMOUNT = 9999
"""Large enough for any promise a vendor makes, small enough that no deadline overflows."""


class DurationUnit(Enum):
    """How a duration is counted: on the wall clock or only while the calendar is open."""

    MINUTES = "m"
    HOURS = "h"
    DAYS = "d"
    BUSINESS_HOURS = "bh"
    BUSINESS_DAYS = "bd"

    @property
    def is_business(self) -> bool:
        return self in (DurationUnit.BUSINESS_HOURS, DurationUnit.BUSINESS_DAYS)


_WALL_CLOCK_SPAN = {
    DurationUnit.MINUTES: timedelta(minutes=1),
    DurationUnit.HOURS: timedelta(hours=1),
    DurationUnit.DAYS: timedelta(days=1),
}

# The whole string must match, so "4bh" can only be 4 + "bh", never 4 + "b" + junk.
_DURATION_RE = re.compile(r"([0-9]+)(m|h|d|bh|bd)")

_EXPECTED = (
    "expected a whole number from 1 to 9999 followed by one unit: "
    "m, h, d (wall clock), bh (business hours) or bd (business days), "
    'e.g. "90m", "4h", "4bh", "1bd"'
)


@dataclass(frozen=True)
class SlaDuration:
    """A whole number of one unit; ``str()`` gives back the operator's spelling."""

    amount: int
    unit: DurationUnit

    @classmethod
    def parse(cls, text: str) -> SlaDuration:
        """Parse ``"4bh"`` and friends; a ``ValueError`` says what is accepted."""
        match = _DURATION_RE.fullmatch(text)
        if match is None:
            hint = _mixed_units_hint(text)
            raise ValueError(f"invalid duration {text!r}: {_EXPECTED}{hint}")
        digits, unit = match.groups()
        amount = int(digits)
        if not 1 <= amount <= MAX_AMOUNT:
            raise ValueError(f"invalid duration {text!r}: {_EXPECTED}")
        return cls(amount, DurationUnit(unit))

    @property
    def is_business(self) -> bool:
        """True for ``bh``/``bd``, which only count while the calendar is open."""
        return self.unit.is_business

    def elapsed(self) -> timedelta:
        """Real elapsed time of a wall-clock duration (``d`` is exactly 24 hours)."""
        if self.unit.is_business:
            raise ValueError(f"{self} counts business time and has no fixed length")
        return self.amount * _WALL_CLOCK_SPAN[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"


def _mixed_units_hint(text: str) -> str:
    # "1h30m" is the most likely near miss; point at the single-unit spelling.
    if re.fullmatch(r"(?:[0-9]+(?:m|h|d))+", text) and len(re.findall(r"[mhd]", text)) > 1:
        minutes = 0
        for number, unit in re.findall(r"([0-9]+)([mhd])", text):
            minutes += int(number) * {"m": 1, "h": 60, "d": 1440}[unit]
        return f" (one unit only: write {minutes}m)"
    return ""

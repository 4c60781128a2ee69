"""Flap detection: the weighted percentage of state changes over a check's last 21 results.

Nagios computes it this way (``base/flapping.c``, ``check_for_service_flapping``, and the
"Detection and Handling of State Flapping" chapter of its manual, which Icinga 1 and Naemon
share): keep the last 21 states, look at the 20 transitions between them, weight each change
linearly from 0.75 for the oldest transition to 1.25 for the newest (the weights average 1),
and divide the weighted sum by 20. A check starts flapping when the percentage reaches the
high threshold and stops when it falls to the low one; in between it keeps its previous
verdict (hysteresis). Pure functions; no clock is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailwatch.domain.results import State

HISTORY_LENGTH = 21
"""States remembered per check: 21 states give 20 transitions, as in Nagios."""

TRANSITIONS = HISTORY_LENGTH - 1
OLDEST_WEIGHT = 0.75
NEWEST_WEIGHT = 1.25
"""Nagios's ``low_curve_value`` and ``high_curve_value``: recent changes count for more."""


def transition_weight(index: int) -> float:
    """Weight of the change into state ``index + 1`` of a full history (``index`` 0..19)."""
    return OLDEST_WEIGHT + index * (NEWEST_WEIGHT - OLDEST_WEIGHT) / (TRANSITIONS - 1)


def percent_state_change(history: Sequence[State]) -> float:
    """Weighted state changes over the last 21 states, as a percentage (0..100).

    A shorter history is read as if the missing older states equalled the oldest known one
    (Nagios fills a new check's history with its first state), so a new check is not called
    flapping after two results.
    """
    recent = list(history[-HISTORY_LENGTH:])
    if len(recent) < 2:
        return 0.0
    offset = HISTORY_LENGTH - len(recent)
    weighted = 0.0
    for position in range(1, len(recent)):
        if recent[position] != recent[position - 1]:
            weighted += transition_weight(offset + position - 1)
    return weighted * 100.0 / TRANSITIONS


def is_flapping(was_flapping: bool, percent: float, high: float, low: float) -> bool:
    """The verdict after a new percentage: start at ``high`` or more, stop at ``low`` or less.

    Nagios uses the same inclusive bounds and keeps its verdict strictly between them.
    """
    if percent >= high:
        return True
    if percent <= low:
        return False
    return was_flapping

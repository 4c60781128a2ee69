"""Flap detection against percentages worked out by hand from Nagios's formula."""

from __future__ import annotations

import pytest

from mailwatch.domain.results import State
from mailwatch.incidents.flapping import (
    HISTORY_LENGTH,
    is_flapping,
    percent_state_change,
    transition_weight,
)

OK, WARN, CRIT = State.OK, State.WARNING, State.CRITICAL


def test_weights_rise_linearly_from_075_to_125() -> None:
    assert transition_weight(0) == pytest.approx(0.75)
    assert transition_weight(19) == pytest.approx(1.25)
    # Twenty weights averaging 1: a state change on every transition is 100 %.
    assert sum(transition_weight(i) for i in range(20)) == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("history", "percent"),
    [
        ([OK] * 21, 0.0),
        ([], 0.0),
        ([CRIT], 0.0),
        # Every transition a change: weights sum to 20, 20 / 20 = 100 %.
        ([OK, CRIT] * 10 + [OK], 100.0),
        # Only the newest transition changed: 1.25 / 20 = 6.25 %.
        ([OK] * 20 + [CRIT], 6.25),
        # Only the oldest: 0.75 / 20 = 3.75 %.
        ([CRIT] + [OK] * 20, 3.75),
        # Transitions 10 and 11 (indexes 9, 10): 0.75 + 9/38 + 0.75 + 10/38 = 2.0 -> 10 %.
        ([OK] * 10 + [CRIT] + [OK] * 10, 10.0),
        # A change between warning and critical counts as much as one to ok: transitions
        # 19 and 20 (indexes 18, 19): (0.75 + 18/38) + 1.25 = 2.4737 -> 12.37 %.
        ([OK] * 19 + [WARN, CRIT], (0.75 + 18 / 38 + 1.25) / 20 * 100),
        # Two results: read as a full history of the first state, so the one change is
        # the newest transition: 6.25 %.
        ([OK, CRIT], 6.25),
        # Older states beyond 21 are forgotten: the leading CRIT drops out.
        ([CRIT] + [OK] * 21, 0.0),
    ],
)
def test_percent_state_change(history: list[State], percent: float) -> None:
    assert percent_state_change(history) == pytest.approx(percent)


def test_eleven_recent_changes() -> None:
    """The newest 11 transitions all change (indexes 9..19): sum of 0.75 + i/38 for i in 9..19
    = 11 * 0.75 + (9 + ... + 19) / 38 = 8.25 + 154 / 38 = 12.3026..., / 20 -> 61.51 %."""
    history = [OK] * 10 + [CRIT, OK, CRIT, OK, CRIT, OK, CRIT, OK, CRIT, OK, CRIT]
    assert len(history) == HISTORY_LENGTH
    assert percent_state_change(history) == pytest.approx((8.25 + 154 / 38) / 20 * 100)


@pytest.mark.parametrize(
    ("was", "percent", "now"),
    [
        (False, 49.99, False),
        (False, 50.0, True),  # the high threshold itself starts flapping, as in Nagios
        (True, 30.0, True),  # between the thresholds: keep the verdict
        (False, 30.0, False),
        (True, 25.0, False),  # the low threshold itself stops it
        (True, 0.0, False),
    ],
)
def test_hysteresis(was: bool, percent: float, now: bool) -> None:
    assert is_flapping(was, percent, high=50.0, low=25.0) is now

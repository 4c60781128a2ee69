"""The scheduler's run times: a check runs ``interval_s`` apart on average, jitter or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailwatch.daemon.scheduler import SteadyInterval, next_slot


@pytest.mark.parametrize(
    ("start", "interval_s", "previous", "expected"),
    [
        (0.0, 60.0, 0.0, 60.0),  # the first slot itself
        (0.0, 60.0, 4.99, 60.0),  # a run made late by jitter stays in its slot
        (0.0, 60.0, 59.9, 60.0),
        (0.0, 60.0, 60.0, 120.0),
        (0.0, 60.0, 185.0, 240.0),  # a run moved off the grid (run now) rejoins it
        (1_795_315_629.123, 60.0, 1_795_315_629.123 + 180.0, 1_795_315_629.123 + 240.0),
        (10.0, 0.5, 10.0 + 0.5 * 7, 10.0 + 0.5 * 8),
    ],
)
def test_next_slot(start: float, interval_s: float, previous: float, expected: float) -> None:
    assert next_slot(start, interval_s, previous) == pytest.approx(expected, abs=1e-6)


def test_jitter_does_not_add_up() -> None:
    start = datetime(2026, 11, 22, 10, 0, 0, 250_000, tzinfo=UTC)
    trigger = SteadyInterval(seconds=60, start_date=start, timezone=UTC, jitter=5)
    fire = start
    runs = [fire]
    for _ in range(1000):
        nxt = trigger.get_next_fire_time(fire, fire)
        assert nxt is not None
        runs.append(nxt)
        fire = nxt
    for k, run in enumerate(runs):
        late_s = (run - (start + timedelta(seconds=60 * k))).total_seconds()
        assert 0 <= late_s <= 5, (k, late_s)
    span_s = (runs[-1] - runs[0]).total_seconds()
    assert span_s / 1000 == pytest.approx(60, abs=0.01)


def test_without_jitter_runs_are_exactly_interval_apart() -> None:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    trigger = SteadyInterval(seconds=2, start_date=start, timezone=UTC)
    second = trigger.get_next_fire_time(start, start)
    assert second == start + timedelta(seconds=2)
    assert trigger.get_next_fire_time(second, second) == start + timedelta(seconds=4)

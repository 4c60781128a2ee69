"""Ticks and labels: round values covering the data, round instants in the display zone, and
values read with their units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwatch.charts.scales import format_value, tick_label, time_ticks, value_ticks


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (0.0, "s", "0 s"),
        (2.5, "s", "2.5 s"),
        (90.0, "s", "90 s"),
        (600.0, "s", "10 min"),
        (14400.0, "s", "4 h"),
        (3 * 86400.0, "s", "3 d"),
        (97.0, "%", "97 %"),
        (512.0, "B", "512 B"),
        (1.5 * 1024**3, "B", "1.5 GiB"),
        (2048.0, "B/s", "2 KiB/s"),
        (12.0, "messages", "12 messages"),
        (25000.0, "messages", "25k messages"),
        (-3.0, "days", "-3 days"),
    ],
)
def test_values_read_with_their_units(value: float, unit: str, shown: str) -> None:
    assert format_value(value, unit) == shown


def test_counts_ticks_leave_the_noun_to_the_title() -> None:
    assert tick_label(40.0, "messages") == "40"
    assert tick_label(40.0, "%") == "40 %"


@given(
    low=st.floats(min_value=-1e12, max_value=1e12),
    spread=st.floats(min_value=0, max_value=1e12),
    unit=st.sampled_from(["s", "%", "B", ""]),
)
def test_value_ticks_cover_the_range(low: float, spread: float, unit: str) -> None:
    high = low + spread
    ticks = value_ticks(low, high, unit)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 21
    assert ticks == sorted(ticks)


def test_durations_tick_in_whole_minutes_and_hours() -> None:
    assert value_ticks(0, 14400, "s") == [0, 3600, 7200, 10800, 14400]


def test_a_day_ticks_at_round_hours_with_the_date_at_midnight() -> None:
    end = datetime(2026, 12, 7, 14, 7, tzinfo=UTC)
    ticks = time_ticks(end - timedelta(hours=24), end, UTC)
    assert [label for _, label in ticks] == ["18:00", "07 Dec", "06:00", "12:00"]


def test_an_hour_ticks_every_ten_minutes() -> None:
    end = datetime(2026, 12, 7, 14, 7, tzinfo=UTC)
    labels = [label for _, label in time_ticks(end - timedelta(hours=1), end, UTC)]
    assert labels == ["13:10", "13:20", "13:30", "13:40", "13:50", "14:00"]


def test_a_month_ticks_on_mondays_in_the_display_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    end = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    ticks = time_ticks(end - timedelta(days=30), end, berlin)
    assert [label for _, label in ticks] == ["09 Nov", "16 Nov", "23 Nov", "30 Nov", "07 Dec"]
    for instant, _ in ticks:
        shown = instant.astimezone(berlin)
        assert (shown.weekday(), shown.hour, shown.minute) == (0, 0, 0)


def test_a_year_ticks_at_months_with_the_year_in_january() -> None:
    end = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    labels = [label for _, label in time_ticks(end - timedelta(days=365), end, UTC)]
    assert labels == ["2026", "Mar", "May", "Jul", "Sep", "Nov"]

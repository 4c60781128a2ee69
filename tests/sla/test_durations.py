"""SLA durations: what operators may write, what it means, and the exact refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwatch.sla.durations import DurationUnit, SlaDuration

EXPECTED = (
    "expected a whole number from 1 to 9999 followed by one unit: "
    "m, h, d (wall clock), bh (business hours) or bd (business days), "
    'e.g. "90m", "4h", "4bh", "1bd"'
)


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("30m", 30, DurationUnit.MINUTES),
        ("90m", 90, DurationUnit.MINUTES),
        ("4h", 4, DurationUnit.HOURS),
        ("1d", 1, DurationUnit.DAYS),
        ("4bh", 4, DurationUnit.BUSINESS_HOURS),
        ("1bd", 1, DurationUnit.BUSINESS_DAYS),
        ("9999m", 9999, DurationUnit.MINUTES),
        ("04h", 4, DurationUnit.HOURS),  # a leading zero is still a whole number
    ],
)
def test_parse_valid(text: str, amount: int, unit: DurationUnit) -> None:
    assert SlaDuration.parse(text) == SlaDuration(amount, unit)


@pytest.mark.parametrize(
    ("duration", "elapsed"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(hours=48)),  # a day is 24 real hours, DST or not
    ],
)
def test_wall_clock_elapsed(duration: str, elapsed: timedelta) -> None:
    assert SlaDuration.parse(duration).elapsed() == elapsed


@pytest.mark.parametrize("duration", ["4bh", "1bd"])
def test_business_durations_have_no_fixed_length(duration: str) -> None:
    parsed = SlaDuration.parse(duration)
    assert parsed.is_business
    with pytest.raises(ValueError, match="counts business time"):
        parsed.elapsed()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"invalid duration '': {EXPECTED}"),
        ("4", f"invalid duration '4': {EXPECTED}"),
        ("h", f"invalid duration 'h': {EXPECTED}"),
        ("0h", f"invalid duration '0h': {EXPECTED}"),
        ("10000m", f"invalid duration '10000m': {EXPECTED}"),
        ("1.5h", f"invalid duration '1.5h': {EXPECTED}"),
        ("-4h", f"invalid duration '-4h': {EXPECTED}"),
        ("4 h", f"invalid duration '4 h': {EXPECTED}"),
        (" 4h", f"invalid duration ' 4h': {EXPECTED}"),
        ("4H", f"invalid duration '4H': {EXPECTED}"),
        ("4s", f"invalid duration '4s': {EXPECTED}"),
        ("4w", f"invalid duration '4w': {EXPECTED}"),
        ("4bm", f"invalid duration '4bm': {EXPECTED}"),
        ("1h30m", f"invalid duration '1h30m': {EXPECTED} (one unit only: write 90m)"),
        ("1d2h", f"invalid duration '1d2h': {EXPECTED} (one unit only: write 1560m)"),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        SlaDuration.parse(text)
    assert str(excinfo.value) == message


@given(
    amount=st.integers(min_value=1, max_value=9999),
    unit=st.sampled_from(list(DurationUnit)),
)
def test_str_round_trips(amount: int, unit: DurationUnit) -> None:
    duration = SlaDuration(amount, unit)
    assert SlaDuration.parse(str(duration)) == duration

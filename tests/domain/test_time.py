"""The one wall-clock duration parser, and the limits its callers add."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailwatch.config.escalation import parse_wall_duration
from mailwatch.domain.quiet import parse_silence_duration
from mailwatch.domain.time import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("0m", timedelta(0)),
        ("90s", timedelta(seconds=90)),
        (" 1H30m ", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-1h", "1.5h", "1bd"])
def test_malformed_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_both_callers_take_the_same_units_and_keep_their_limits() -> None:
    assert parse_wall_duration("1w") == parse_silence_duration("1w") == timedelta(weeks=1)
    with pytest.raises(ValueError, match="at most 60 days"):
        parse_wall_duration("9w")
    with pytest.raises(ValueError, match="must be longer than zero"):
        parse_silence_duration("0")

"""Quiet periods: which maintenance window or silence covers a check, and silence durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from helpers.builders import minutes
from mailwatch.config.maintenance import MaintenanceWindowConfig
from mailwatch.domain.quiet import Silence, parse_silence_duration, quiet_for

SUNDAY_NIGHT = {"days": ["sun"], "from": "02:00", "to": "04:00", "timezone": "Europe/Athens"}


def window(**keys: object) -> MaintenanceWindowConfig:
    return MaintenanceWindowConfig.model_validate({"name": "w", **keys})


def test_quiet_for_prefers_windows_and_covers_named_checks_only() -> None:
    now = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    windows = [window(checks=["imap"], **SUNDAY_NIGHT)]
    silence = Silence(1, "all", now - minutes(5), now + minutes(55), "upgrade", "alice")
    quiet = quiet_for("imap", now, windows, [silence])
    assert quiet is not None and quiet.kind == "maintenance"
    quiet = quiet_for("smtp", now, windows, [silence])
    assert quiet is not None and quiet.reason == "silenced by alice: upgrade"
    ended = Silence(1, "all", now - minutes(5), now + minutes(55), "x", "a", ended_at=now)
    assert quiet_for("smtp", now, [], [ended]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", timedelta(hours=2)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_silence_durations(text: str, expected: timedelta) -> None:
    assert parse_silence_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-1h", "0m", "2x", "400d"])
def test_malformed_silence_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_silence_duration(text)

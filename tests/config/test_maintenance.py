"""Maintenance windows in the config: validation, and when a window is active."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from helpers.builders import config
from mailwatch.config.loader import format_validation_error
from mailwatch.config.maintenance import MaintenanceWindowConfig


def window(**keys: Any) -> MaintenanceWindowConfig:
    return MaintenanceWindowConfig.model_validate({"name": "w", **keys})


SUNDAY_NIGHT = {"days": ["sun"], "from": "02:00", "to": "04:00", "timezone": "Europe/Athens"}


@pytest.mark.parametrize(
    ("keys", "now", "until"),
    [
        # One-off: start inclusive, end exclusive.
        (
            {"start": "2026-11-22T02:00:00+02:00", "end": "2026-11-22T04:00:00+02:00"},
            datetime(2026, 11, 22, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        ),
        (
            {"start": "2026-11-22T02:00:00+02:00", "end": "2026-11-22T04:00:00+02:00"},
            datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
            None,
        ),
        # Sunday 22 November 2026, 03:00 in Athens (UTC+2) is 01:00 UTC.
        (
            SUNDAY_NIGHT,
            datetime(2026, 11, 22, 1, 0, tzinfo=UTC),
            datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        ),
        (SUNDAY_NIGHT, datetime(2026, 11, 22, 2, 0, tzinfo=UTC), None),
        (SUNDAY_NIGHT, datetime(2026, 11, 23, 1, 0, tzinfo=UTC), None),  # Monday
        # In summer Athens is UTC+3: Sunday 5 July 2026 02:30 local is 23:30 UTC on Saturday.
        (
            SUNDAY_NIGHT,
            datetime(2026, 7, 4, 23, 30, tzinfo=UTC),
            datetime(2026, 7, 5, 1, 0, tzinfo=UTC),
        ),
        # Past midnight: Saturday 22:00 to 02:00 is still on at Sunday 01:00.
        (
            {"days": ["sat"], "from": "22:00", "to": "02:00", "timezone": "UTC"},
            datetime(2026, 11, 22, 1, 0, tzinfo=UTC),
            datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        ),
        (
            {"days": ["sun"], "from": "00:00", "to": "24:00", "timezone": "UTC"},
            datetime(2026, 11, 22, 23, 59, tzinfo=UTC),
            datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
        ),
    ],
)
def test_window_active_until(keys: dict[str, Any], now: datetime, until: datetime | None) -> None:
    assert window(**keys).active_until(now) == until


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"start": "2026-11-22T02:00:00"}, "start: needs a UTC offset"),
        (
            {"start": "2026-11-22T02:00:00Z"},
            "a one-off window needs both start and end",
        ),
        (
            {"start": "2026-11-22T04:00:00Z", "end": "2026-11-22T02:00:00Z"},
            "end must be later than start",
        ),
        ({}, "a window needs start and end (one-off), or days, from, to and timezone"),
        ({"days": ["sun"], "from": "02:00"}, "a recurring window needs to, timezone as well"),
        (
            {**SUNDAY_NIGHT, "timezone": "Mars/Olympus"},
            "timezone: unknown time zone 'Mars/Olympus'",
        ),
        ({**SUNDAY_NIGHT, "from": "2am"}, "invalid time '2am'"),
        ({**SUNDAY_NIGHT, "to": "02:00", "from": "02:00"}, "from and to are the same time"),
        ({**SUNDAY_NIGHT, "days": ["sunday"]}, "days[0]: Input should be"),
        (
            {**SUNDAY_NIGHT, "start": "2026-11-22T02:00:00Z", "end": "2026-11-22T03:00:00Z"},
            "either one-off (start, end) or recurring",
        ),
        ({**SUNDAY_NIGHT, "every": "week"}, "every: unknown key"),
        ({**SUNDAY_NIGHT, "announce_before": "3 days"}, "invalid duration '3 days'"),
        ({**SUNDAY_NIGHT, "announce_before": "90d"}, "at most 60 days"),
        (
            {**SUNDAY_NIGHT, "routes": ["team"]},
            "routes name who hears of the window's announcements: set announce_before",
        ),
        ({**SUNDAY_NIGHT, "announce_before": "3d", "routes": []}, "routes is empty"),
    ],
)
def test_invalid_windows_say_what_is_wrong(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MaintenanceWindowConfig.model_validate({"name": "w", **keys})
    assert any(message in line for line in format_validation_error(caught.value)), (
        format_validation_error(caught.value)
    )


def test_window_naming_an_unknown_check_is_refused() -> None:
    with pytest.raises(ValidationError, match="maintenance window 'w' names unknown check"):
        config(maintenance=[{"name": "w", "checks": ["nope"], **SUNDAY_NIGHT}])


def test_window_naming_an_unknown_route_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        config(
            routes={"team": {"urls": ["json://localhost/"]}},
            maintenance=[{"name": "w", "announce_before": "3d", "routes": ["ops"], **SUNDAY_NIGHT}],
        )
    assert "maintenance window 'w' names unknown route(s): ops (defined routes: 'team')" in str(
        caught.value
    )


def test_maintenance_announcements_take_no_template() -> None:
    with pytest.raises(ValidationError, match="maintenance announcements have a fixed text"):
        config(alerts={"templates": {"maintenance": {"title": "$check"}}})

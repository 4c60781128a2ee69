"""Quiet periods: maintenance windows from the config and silences from the CLI.

While one covers a check, its results are recorded and its tickets open as usual, but no
event notifies; the engine re-announces open tickets when the quiet period ends. Pure
arithmetic on aware datetimes: no clock is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailwatch.config.maintenance import MaintenanceWindowConfig, clock_minutes
from mailwatch.domain.quiet import ALL_CHECKS, Quiet, Silence
from mailwatch.sla.calendar import WEEKDAYS, load_zone, localize


class MaintenanceWindow:
    """A configured window: one-off, or recurring on weekdays in a time zone.

    A recurring window whose ``to`` is not after ``from`` ends the next day (``22:00`` to
    ``02:00``); ``days`` name the day it starts. Local times that do not exist or occur twice
    on daylight-saving days are resolved as ``mailwatch.sla`` does.
    """

    def __init__(self, config: MaintenanceWindowConfig) -> None:
        self.name = config.name
        self.checks = frozenset(config.checks)
        self._config = config

    def covers(self, check: str) -> bool:
        return ALL_CHECKS in self.checks or check in self.checks

    def active_until(self, now: datetime) -> datetime | None:
        """The end of the occurrence that contains ``now``, or None when none does."""
        config = self._config
        if config.start is not None and config.end is not None:
            return config.end if config.start <= now < config.end else None
        assert config.days is not None and config.from_ is not None and config.to is not None
        assert config.timezone is not None
        zone = load_zone(config.timezone)
        opens = clock_minutes(config.from_)
        closes = clock_minutes(config.to, allow_midnight_end=True)
        today = now.astimezone(zone).date()
        # An occurrence that started yesterday may still be running after midnight.
        for day in (today - timedelta(days=1), today):
            if WEEKDAYS[day.weekday()] not in config.days:
                continue
            start = _local(day, opens, zone)
            end_day = day if closes > opens else day + timedelta(days=1)
            end = _local(end_day, closes, zone)
            if start <= now < end:
                return end
        return None


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    return localize(naive, zone).astimezone(UTC)


def quiet_for(
    check: str,
    now: datetime,
    windows: Iterable[MaintenanceWindow],
    silences: Iterable[Silence],
) -> Quiet | None:
    """The quiet period covering ``check`` at ``now``; windows before silences."""
    for window in windows:
        if window.covers(check):
            until = window.active_until(now)
            if until is not None:
                return Quiet("maintenance", f"maintenance window {window.name!r}", until)
    for silence in silences:
        if silence.covers(check) and silence.active_at(now):
            return Quiet(
                "silence",
                f"silenced by {silence.created_by}: {silence.reason}",
                silence.until,
            )
    return None


_DURATION_PART = re.compile(r"([0-9]+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_silence_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d``, ``1h30m``: wall-clock time; ``ValueError`` otherwise."""
    cleaned = text.strip().lower()
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit (s, m, h, d, w), "
            "e.g. 30m, 2h, 1d or 1h30m"
        )
    total = timedelta(seconds=sum(int(n) * _UNIT_S[u] for n, u in parts))
    if total <= timedelta(0):
        raise ValueError(f"invalid duration {text!r}: must be longer than zero")
    if total > timedelta(days=366):
        raise ValueError(f"invalid duration {text!r}: at most a year; use a config window")
    return total

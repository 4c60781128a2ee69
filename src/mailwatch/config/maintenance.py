"""``[[maintenance]]`` windows: when results are recorded and tickets open, but nobody is told.

A window is one-off (``start``/``end`` with a UTC offset) or recurring (``days``, ``from``,
``to`` and ``timezone``). The validated model is the window itself: ``covers`` and
``active_until`` say when it holds notices back (``mailwatch.domain.quiet.quiet_for``);
``occurrences`` lists its occurrences for the notices that announce it (``announce_before``,
``mailwatch.alerts.announcements``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, field_validator, model_validator

from mailwatch.config.base import StrictModel
from mailwatch.config.escalation import WallDuration
from mailwatch.config.routes import RouteName
from mailwatch.config.sla import Weekday
from mailwatch.domain.quiet import ALL_CHECKS
from mailwatch.domain.time import load_zone
from mailwatch.sla.calendar import WEEKDAYS, localize

_CLOCK_RE = re.compile(r"([0-9]{2}):([0-9]{2})")


def clock_minutes(text: str, *, allow_midnight_end: bool = False) -> int:
    """Minutes after midnight of ``"HH:MM"``; ``"24:00"`` only where it ends a window."""
    match = _CLOCK_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid time {text!r}: expected HH:MM in 24-hour time, e.g. '02:00'")
    hours, minutes = int(match[1]), int(match[2])
    total = hours * 60 + minutes
    limit = 24 * 60 if allow_midnight_end else 24 * 60 - 1
    if minutes > 59 or total > limit:
        raise ValueError(f"invalid time {text!r}: not a time of day")
    return total


class MaintenanceWindowConfig(StrictModel):
    """One maintenance window; ``checks = ["all"]`` covers every check.

    A recurring window whose ``to`` is not after ``from`` ends the next day (``22:00`` to
    ``02:00``); ``days`` name the day it starts. Local times that do not exist or occur twice
    on daylight-saving days are resolved as ``mailwatch.sla`` does.

    ``announce_before`` (e.g. ``"3d"``) announces each occurrence that long ahead, and again
    when it starts and when it ends, to ``routes`` (or, without them, to every route whose
    filters take a maintenance notice about one of the window's checks).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=100)
    checks: tuple[str, ...] = (ALL_CHECKS,)
    start: datetime | None = None
    end: datetime | None = None
    days: tuple[Weekday, ...] | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    timezone: str | None = None
    announce_before: WallDuration | None = None
    routes: tuple[RouteName, ...] | None = None

    @field_validator("start", "end")
    @classmethod
    def _has_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            # A local time would be read differently by hosts in different zones.
            raise ValueError("needs a UTC offset, e.g. 2026-11-22T02:00:00+01:00 (or Z for UTC)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            load_zone(value)
        return value

    @field_validator("checks")
    @classmethod
    def _some_checks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('list at least one check name, or "all"')
        return value

    @model_validator(mode="after")
    def _routes_need_announcing(self) -> MaintenanceWindowConfig:
        if self.routes is not None and self.announce_before is None:
            raise ValueError(
                "routes name who hears of the window's announcements: set announce_before "
                '(e.g. "3d") as well'
            )
        if self.routes is not None and not self.routes:
            raise ValueError("routes is empty, so nobody would be told; omit it or name a route")
        return self

    @model_validator(mode="after")
    def _one_off_or_recurring(self) -> MaintenanceWindowConfig:
        one_off = self.start is not None or self.end is not None
        recurring_keys = {
            "days": self.days,
            "from": self.from_,
            "to": self.to,
            "timezone": self.timezone,
        }
        recurring = any(value is not None for value in recurring_keys.values())
        if one_off and recurring:
            raise ValueError(
                "a window is either one-off (start, end) or recurring (days, from, to, "
                "timezone), not both"
            )
        if one_off:
            if self.start is None or self.end is None:
                raise ValueError("a one-off window needs both start and end")
            if self.end <= self.start:
                raise ValueError("end must be later than start")
            return self
        if not recurring:
            raise ValueError(
                "a window needs start and end (one-off), or days, from, to and timezone (recurring)"
            )
        missing = [key for key, value in recurring_keys.items() if value is None]
        if missing:
            raise ValueError(f"a recurring window needs {', '.join(missing)} as well")
        assert self.days is not None and self.from_ is not None and self.to is not None
        if not self.days:
            raise ValueError("days must list at least one weekday")
        opens = clock_minutes(self.from_)
        closes = clock_minutes(self.to, allow_midnight_end=True)
        if opens == closes:
            raise ValueError("from and to are the same time; a window cannot be empty")
        return self

    def covers(self, check: str) -> bool:
        return ALL_CHECKS in self.checks or check in self.checks

    def active_until(self, now: datetime) -> datetime | None:
        """The end of the occurrence that contains ``now``, or None when none does. Pure
        arithmetic on aware datetimes: no clock is read."""
        if self.start is not None and self.end is not None:
            return self.end if self.start <= now < self.end else None
        assert self.days is not None and self.from_ is not None and self.to is not None
        assert self.timezone is not None
        zone = load_zone(self.timezone)
        opens = clock_minutes(self.from_)
        closes = clock_minutes(self.to, allow_midnight_end=True)
        today = now.astimezone(zone).date()
        # An occurrence that started yesterday may still be running after midnight.
        for day in (today - timedelta(days=1), today):
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            start = _local(day, opens, zone)
            end_day = day if closes > opens else day + timedelta(days=1)
            end = _local(end_day, closes, zone)
            if start <= now < end:
                return end
        return None

    def occurrences(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """The (start, end) of every occurrence that starts before ``until`` and ends after
        ``since``, earliest first. Pure arithmetic, like ``active_until``."""
        if self.start is not None and self.end is not None:
            return [(self.start, self.end)] if self.start < until and self.end > since else []
        assert self.days is not None and self.from_ is not None and self.to is not None
        assert self.timezone is not None
        zone = load_zone(self.timezone)
        opens = clock_minutes(self.from_)
        closes = clock_minutes(self.to, allow_midnight_end=True)
        found = []
        day = since.astimezone(zone).date() - timedelta(days=1)
        last = until.astimezone(zone).date()
        while day <= last:
            if WEEKDAYS[day.weekday()] in self.days:
                start = _local(day, opens, zone)
                end = _local(day if closes > opens else day + timedelta(days=1), closes, zone)
                if start < until and end > since:
                    found.append((start, end))
            day += timedelta(days=1)
        return found


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    naive = datetime.combine(day, time(minutes // 60, minutes % 60))
    return localize(naive, zone).astimezone(UTC)


def check_maintenance_references(
    windows: list[MaintenanceWindowConfig], check_names: set[str], route_names: set[str]
) -> None:
    """Raise ``ValueError`` for repeated window names and windows naming unknown checks or
    routes."""
    names = [window.name for window in windows]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"maintenance window names must be unique; repeated: {', '.join(repeated)}"
        )
    for window in windows:
        unknown = [c for c in window.checks if c != ALL_CHECKS and c not in check_names]
        if unknown:
            raise ValueError(
                f"maintenance window {window.name!r} names unknown check(s): {', '.join(unknown)}"
            )
        unknown = [r for r in window.routes or () if r not in route_names]
        if unknown:
            defined = ", ".join(repr(name) for name in sorted(route_names)) or "none"
            raise ValueError(
                f"maintenance window {window.name!r} names unknown route(s): "
                f"{', '.join(unknown)} (defined routes: {defined})"
            )

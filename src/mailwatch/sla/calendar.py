"""Business calendars: when a vendor's desk is open, in the vendor's own time zone.

Pure arithmetic on aware datetimes; every instant is compared and added in UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from mailwatch.domain.time import load_zone

if TYPE_CHECKING:
    import holidays

    from mailwatch.config.sla import BusinessCalendarConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as written in config, indexed like ``date.weekday()``."""

MAX_IDLE_DAYS = 3660
"""Give up after ten years without a working day: only a calendar that closed every
date it lists could get there, and an endless loop would hang the daemon."""

_HOURS_RE = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class DailyHours:
    """Opening hours of one working day, as minutes after local midnight.

    ``closes_min`` may be 1440 (``24:00``); hours never wrap past midnight, so a
    day's open interval always belongs to that day's date, which is what holidays
    and closed dates are keyed by.
    """

    opens_min: int
    closes_min: int

    @classmethod
    def parse(cls, text: str) -> DailyHours:
        """Parse ``"09:00-17:00"``: open from the first time, closed from the second."""
        match = _HOURS_RE.fullmatch(text)
        if match is None:
            raise ValueError(
                f"invalid hours {text!r}: expected HH:MM-HH:MM in 24-hour time, e.g. '09:00-17:00'"
            )
        oh, om, ch, cm = (int(part) for part in match.groups())
        if oh > 23 or om > 59:
            raise ValueError(f"invalid hours {text!r}: {oh:02}:{om:02} is not a time of day")
        if ch * 60 + cm > _MINUTES_PER_DAY or cm > 59:
            raise ValueError(
                f"invalid hours {text!r}: {ch:02}:{cm:02} is not a time of day "
                "(24:00 is the latest)"
            )
        opens, closes = oh * 60 + om, ch * 60 + cm
        if closes == opens:
            raise ValueError(f"invalid hours {text!r}: opening and closing time are the same")
        if closes < opens:
            raise ValueError(
                f"invalid hours {text!r}: hours may not wrap past midnight; "
                "the closing time must be later than the opening time (use 24:00 for midnight)"
            )
        return cls(opens, closes)

    def __str__(self) -> str:
        return f"{_clock(self.opens_min)}-{_clock(self.closes_min)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02}:{minutes % 60:02}"


def check_holiday_source(country: str, subdiv: str | None = None) -> None:
    """A ``ValueError`` unless the ``holidays`` package knows the country and subdivision."""
    # Imported here, not at the top: loading it costs every `mailwatch check` tens of
    # milliseconds, and most configs name no holidays.
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(
            f"the holidays package does not know country {country!r}: "
            "use an ISO 3166-1 alpha-2 code such as 'US', 'GR' or 'DE'"
        )
    if subdiv is not None and subdiv not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        raise ValueError(
            f"the holidays package does not know subdivision {subdiv!r} of {country}; "
            f"known subdivisions: {known}"
        )


def holiday_table(country: str, subdiv: str | None = None) -> holidays.HolidayBase:
    """The public holidays of a country (and subdivision), with no year computed yet.

    The table fills in a year the first time a date in it is looked up, so each
    calendar computes each year it needs once.
    """
    import holidays

    check_holiday_source(country, subdiv)
    return holidays.country_holidays(country, subdiv=subdiv)


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Read a local wall-clock time in ``zone`` as one instant (in ``zone``).

    An ambiguous time (the repeated hour when clocks go back) is its first
    occurrence. A time that does not exist (skipped when clocks go forward) is the
    instant of the jump: a desk that opens at 02:30 opens when the clock jumps from
    02:00 to 03:00, the first moment its wall clock reads 02:30 or later.
    """
    candidate = naive.replace(tzinfo=zone, fold=0)
    if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
        return candidate
    return _end_of_gap(naive, zone).astimezone(zone)


def _end_of_gap(naive: datetime, zone: ZoneInfo) -> datetime:
    # zoneinfo cannot name the transition instant, but it lies between the gap time
    # read with the new offset (still before the jump) and with the old one (after it).
    before = naive.replace(tzinfo=zone, fold=0).utcoffset()
    after = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert before is not None and after is not None
    low = math.floor((naive - after).replace(tzinfo=UTC).timestamp())
    high = math.ceil((naive - before).replace(tzinfo=UTC).timestamp())
    # Transitions fall on whole seconds; bisect for the first second on the new offset.
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def require_aware(instant: datetime, what: str) -> datetime:
    """``instant`` itself; a ``ValueError`` if it carries no UTC offset."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {instant.isoformat()}")
    return instant


class BusinessCalendar:
    """Working days and opening hours in one time zone, with holidays and closed dates.

    A working day is a listed weekday that is neither a public holiday of the
    calendar's country (and subdivision) nor a closed date. Open intervals are
    half-open: open at the opening time, closed at the closing time. Results are
    aware datetimes in the calendar's zone; inputs may be in any zone.
    """

    def __init__(
        self,
        zone: ZoneInfo,
        hours: DailyHours,
        days: Iterable[int] = range(5),
        holiday_country: str | None = None,
        holiday_subdiv: str | None = None,
        closed: Iterable[date] = (),
    ) -> None:
        self.zone = zone
        self.hours = hours
        self.days = frozenset(days)
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("days must be a non-empty set of weekday numbers 0 (Monday) to 6")
        self.closed = frozenset(closed)
        # Built now so an unknown country fails at load time; years fill in lazily.
        self._holidays = (
            holiday_table(holiday_country, holiday_subdiv) if holiday_country is not None else None
        )

    @classmethod
    def from_config(cls, config: BusinessCalendarConfig) -> BusinessCalendar:
        """The calendar a validated ``[calendars.NAME]`` section describes."""
        source = config.holidays
        return cls(
            zone=load_zone(config.timezone),
            hours=DailyHours.parse(config.hours),
            days=(WEEKDAYS.index(day) for day in config.days),
            holiday_country=source.country if source is not None else None,
            holiday_subdiv=source.subdiv if source is not None else None,
            closed=config.closed,
        )

    def is_working_day(self, day: date) -> bool:
        """A listed weekday that is neither a public holiday nor a closed date."""
        if day.weekday() not in self.days or day in self.closed:
            return False
        return self._holidays is None or day not in self._holidays

    def is_open(self, instant: datetime) -> bool:
        """Whether the desk is open at ``instant``; at closing time exactly it is not."""
        moment = _utc(require_aware(instant, "instant"))
        opens, _ = next(self._open_intervals(moment))
        return opens <= moment

    def next_opening(self, instant: datetime) -> datetime:
        """The first open instant at or after ``instant``: itself when open."""
        moment = _utc(require_aware(instant, "instant"))
        opens, _ = next(self._open_intervals(moment))
        return max(opens, moment).astimezone(self.zone)

    def add_business_hours(self, start: datetime, hours: int) -> datetime:
        """``start`` plus ``hours`` of open time; see ``add_business_time``."""
        return self.add_business_time(start, timedelta(hours=hours))

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """``start`` plus ``amount`` counted only while open.

        Counting starts at the next opening when ``start`` is outside hours. A result
        that lands exactly on a closing time stays there: the time was used up
        before the desk closed, so it is not moved to the next opening.
        """
        if amount < timedelta(0):
            raise ValueError(f"cannot add negative business time {amount}")
        moment = _utc(require_aware(start, "start"))
        remaining = amount
        for opens, closes in self._open_intervals(moment):
            cursor = max(opens, moment)
            if remaining <= closes - cursor:
                return (cursor + remaining).astimezone(self.zone)
            remaining -= closes - cursor
        raise AssertionError("unreachable: _open_intervals never ends")  # pragma: no cover

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same local time ``days`` working days later, counted from the next opening.

        From inside hours, Friday 15:00 plus one day is Monday 15:00. From outside
        hours counting starts at the next opening: Saturday 10:00 plus one day is
        Tuesday 09:00 (Monday 09:00 is the start).
        """
        if days < 0:
            raise ValueError(f"cannot add negative business days {days}")
        begin = self.next_opening(start).replace(tzinfo=None)
        day = begin.date()
        for _ in range(days):
            day = self._next_working_day(day)
        return localize(datetime.combine(day, begin.time()), self.zone)

    def _next_working_day(self, day: date) -> date:
        for _ in range(MAX_IDLE_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError(f"calendar has no working day in the ten years after {day}")

    def _open_intervals(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ``[opens, closes)`` in UTC that end after ``moment``, in order."""
        # Start a day early: it costs one lookup and keeps this correct even in a zone
        # whose clocks change at midnight, where local dates and intervals could slip.
        day = moment.astimezone(self.zone).date() - timedelta(days=1)
        idle_days = 0
        while idle_days < MAX_IDLE_DAYS:
            interval = self._interval(day) if self.is_working_day(day) else None
            if interval is not None and interval[1] > moment:
                idle_days = 0
                yield interval
            else:
                idle_days += 1
            day += timedelta(days=1)
        raise ValueError(f"calendar has no open hours in the ten years up to {day}")

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's open interval in UTC, or None if the clock change swallowed it."""
        midnight = datetime.combine(day, time())
        opens = _utc(localize(midnight + timedelta(minutes=self.hours.opens_min), self.zone))
        closes = _utc(localize(midnight + timedelta(minutes=self.hours.closes_min), self.zone))
        # Hours that lie entirely inside a skipped hour (02:15-02:45 on the spring
        # change) never appear on the wall clock: the desk does not open that day.
        # Compared in UTC: aware datetimes sharing a tzinfo compare by wall clock.
        if closes <= opens:
            return None
        return opens, closes


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)

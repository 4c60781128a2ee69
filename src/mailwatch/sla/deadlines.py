"""When a ticket's response and resolution are due under a support plan.

Pure functions of (plan, calendar, severity, opened, acknowledged): no clock is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from mailwatch.sla.calendar import BusinessCalendar, localize, require_aware
from mailwatch.sla.durations import DurationUnit, SlaDuration

if TYPE_CHECKING:
    from mailwatch.config.sla import BusinessCalendarConfig, SlaPlanConfig

SEVERITIES = (1, 2, 3, 4)
"""Severity 1 is the most urgent; a plan keys its targets ``sev1`` .. ``sev4``."""

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9900, 1, 1, tzinfo=UTC)
"""Tickets open within these instants (the end excluded): on a desk open five days a week the
longest promise (9999 business days, ~40 years) ends inside what ``datetime`` can hold. A
desk open an hour a week can still promise past the year 9999: that is a ``ValueError`` too."""
RANGE_TEXT = "deadlines are computed for times from 1900 to 9899"


@dataclass(frozen=True)
class Deadlines:
    """Absolute, timezone-aware instants; None where the plan sets no target."""

    response_due: datetime | None
    resolution_due: datetime | None


def add_duration(calendar: BusinessCalendar, start: datetime, duration: SlaDuration) -> datetime:
    """``start`` plus ``duration``, in the calendar's zone.

    Wall-clock units are real elapsed time, so ``4h`` across a DST change is four
    hours later by a stopwatch even though the local clock moved three or five.
    """
    if duration.unit is DurationUnit.BUSINESS_HOURS:
        return calendar.add_business_hours(start, duration.amount)
    if duration.unit is DurationUnit.BUSINESS_DAYS:
        return calendar.add_business_days(start, duration.amount)
    # Python adds a timedelta to an aware datetime on its wall clock; UTC has no DST.
    elapsed = require_aware(start, "start").astimezone(UTC) + duration.elapsed()
    return elapsed.astimezone(calendar.zone)


def compute_deadlines(
    plan: SlaPlanConfig,
    calendar: BusinessCalendar,
    severity: int,
    opened_at: datetime,
    acknowledged_at: datetime | None = None,
) -> Deadlines:
    """The response and resolution deadlines of a ticket.

    ``response_off_hours`` replaces ``response`` when the ticket was opened outside
    business hours (exactly at closing time counts as outside). The resolution
    clock starts at ``acknowledged_at``, or at the response deadline while the
    ticket is unacknowledged.
    """
    target = plan.target(severity)
    require_in_range(opened_at, "opened_at")
    if acknowledged_at is not None:
        require_in_range(acknowledged_at, "acknowledged_at")
        # Compare in UTC: aware datetimes sharing a tzinfo compare by wall clock.
        if acknowledged_at.astimezone(UTC) < opened_at.astimezone(UTC):
            raise ValueError(
                f"acknowledged_at {acknowledged_at.isoformat()} is before "
                f"opened_at {opened_at.isoformat()}"
            )
    if target is None:
        return Deadlines(response_due=None, resolution_due=None)
    try:
        response_due = None
        if target.response is not None:
            promise = target.response
            if target.response_off_hours is not None and not calendar.is_open(opened_at):
                promise = target.response_off_hours
            response_due = add_duration(calendar, opened_at, promise)
        resolution_due = None
        resolution_start = acknowledged_at if acknowledged_at is not None else response_due
        if target.resolution is not None and resolution_start is not None:
            resolution_due = add_duration(calendar, resolution_start, target.resolution)
    except OverflowError:
        # 9999 business hours of a desk open an hour a week is ~190 years; see LATEST.
        raise ValueError(
            f"a deadline of the ticket opened {opened_at.isoformat()} falls after the year 9999"
        ) from None
    return Deadlines(response_due=response_due, resolution_due=resolution_due)


def require_in_range(instant: datetime, what: str) -> datetime:
    """``instant`` itself; a ``ValueError`` naming ``what`` if it carries no UTC offset or lies
    outside ``EARLIEST`` .. ``LATEST``."""
    require_aware(instant, what)
    try:
        utc = instant.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first instant datetime holds
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"{what} {instant.isoformat()} is out of range: {RANGE_TEXT}")
    return instant


def sla_report(
    config_calendars: Mapping[str, BusinessCalendarConfig],
    config_plans: Mapping[str, SlaPlanConfig],
    plan_name: str,
    severity: int,
    opened: datetime | str,
    acknowledged: datetime | str | None = None,
) -> dict[str, str | None]:
    """What ``mailwatch sla --json`` prints: deadlines as ISO 8601 in the calendar's zone.

    ``opened`` and ``acknowledged`` may be datetimes or ISO 8601 strings; a time
    without a UTC offset is read as local time in the plan's calendar zone.
    """
    plan = config_plans.get(plan_name)
    if plan is None:
        defined = ", ".join(repr(name) for name in config_plans) or "none"
        raise ValueError(f"unknown plan {plan_name!r} (defined plans: {defined})")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be 1, 2, 3 or 4, got {severity}")
    calendar_config = config_calendars.get(plan.calendar)
    if calendar_config is None:
        raise ValueError(
            f"plan {plan_name!r} uses calendar {plan.calendar!r}, which is not defined"
        )
    calendar = BusinessCalendar.from_config(calendar_config)
    opened_at = _instant(opened, calendar.zone, "opened")
    acknowledged_at = None
    if acknowledged is not None:
        acknowledged_at = _instant(acknowledged, calendar.zone, "acknowledged")
    deadlines = compute_deadlines(plan, calendar, severity, opened_at, acknowledged_at)
    return {
        "response_due": _iso(deadlines.response_due, calendar.zone),
        "resolution_due": _iso(deadlines.resolution_due, calendar.zone),
    }


def _instant(value: datetime | str, zone: ZoneInfo, what: str) -> datetime:
    """A time a person typed for ``mailwatch sla``. Not ``mailwatch.domain.time.parse_instant``,
    which reads instants mailwatch wrote itself: this one reads a time without an offset as
    local time in the plan's calendar zone, and its error names the argument."""
    original = value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{what} time {value!r} is not ISO 8601, e.g. 2026-11-23T09:00:00-05:00"
            ) from None
    text = original if isinstance(original, str) else original.isoformat()
    out_of_range = ValueError(f"{what} time {text!r} is out of range: {RANGE_TEXT}")
    if value.tzinfo is None or value.utcoffset() is None:
        if not EARLIEST.year <= value.year < LATEST.year:
            raise out_of_range  # localize cannot read the first and last days datetime holds
        value = localize(value, zone)
    try:
        return require_in_range(value, what)
    except ValueError:
        raise out_of_range from None


def _iso(instant: datetime | None, zone: ZoneInfo) -> str | None:
    """Unlike ``mailwatch.domain.time.iso``: in the calendar's zone, to the second, as
    ``mailwatch sla --json`` has always printed it."""
    if instant is None:
        return None
    return instant.astimezone(zone).isoformat(timespec="seconds")

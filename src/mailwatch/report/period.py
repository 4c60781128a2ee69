"""The instants of a report's period, and its bounds: the CLI and ``/report`` both refuse a
period the stored history cannot cover (longer than ``[store] history_days`` and a month) or
one outside the calendar datetime can hold, before any day, month or query is built."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

SLACK_DAYS = 31
"""A report may run this much past ``history_days``: a year's report over 400 kept days, a
month rounded out to its first and last day."""


def longest_days(history_days: int) -> int:
    return history_days + SLACK_DAYS


def period_instants(
    first: date, last: date, zone: tzinfo, history_days: int
) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in ``zone``, as UTC instants; ``ValueError``
    (a one-line message) for a period too long for the history or outside datetime's range.
    ``last`` is expected not before ``first``."""
    days = (last - first).days + 1
    if days > longest_days(history_days):
        raise ValueError(
            f"the period is {days} days; the history keeps {history_days} "
            f"([store] history_days), so give at most {longest_days(history_days)}"
        )
    try:
        after = last + timedelta(days=1)
        return (
            datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC),
            datetime(after.year, after.month, after.day, tzinfo=zone).astimezone(UTC),
        )
    except OverflowError:
        raise ValueError(
            f"the period {first.isoformat()} to {last.isoformat()} is outside the calendar "
            "mailwatch can count"
        ) from None

"""Instants, durations and time zones: the one way mailwatch writes, reads and says them.

Instants travel as ISO 8601 with their offset (payloads, the status file, JSON output);
``parse_duration`` reads a wall-clock duration as operators write it; ``span`` says a
duration the way a person reads it at a glance.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def iso(value: datetime | None) -> str | None:
    """How instants travel in payloads: ISO 8601 with their offset."""
    return None if value is None else value.isoformat()


def parse_instant(value: Any) -> datetime | None:
    """An instant from a payload: a datetime as it is, an ISO 8601 string parsed, None or an
    empty string as None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


class SpanStyle(enum.Enum):
    """How finely ``span`` says a duration; one formatter, three granularities that texts
    people already read rely on."""

    GLANCE = "glance"
    """``45 s``, ``12 min``, ``3 h 5 min``, ``4 days`` (whole days from 48 h): tickets,
    status, alerts."""
    AGE = "age"
    """``45 s``, ``12 min``, ``3 h 12 min``, ``1 d``, ``2 d 4 h`` (the two largest units):
    the age of the oldest queued message."""
    COARSE = "coarse"
    """``less than an hour``, ``30 h``, ``21 days`` (whole hours, whole days from 48 h): how
    far a certificate's dates are."""


def span(seconds: float, style: SpanStyle = SpanStyle.GLANCE) -> str:
    """A duration rounded down, the way a person reads it at a glance (``style`` picks how
    finely); the sign is dropped, callers say "ago" or "in"."""
    whole = abs(int(seconds))
    minutes = whole // 60
    hours, minute_of_hour = divmod(minutes, 60)
    days, hour_of_day = divmod(hours, 24)
    if style is SpanStyle.COARSE:
        if hours >= 48:
            return f"{days} days"
        return f"{hours} h" if hours else "less than an hour"
    if whole < 60:
        return f"{whole} s"
    if hours == 0:
        return f"{minutes} min"
    if style is SpanStyle.AGE and days:
        return f"{days} d {hour_of_day} h" if hour_of_day else f"{days} d"
    if style is SpanStyle.GLANCE and hours >= 48:
        return f"{days} days"
    return f"{hours} h {minute_of_hour} min" if minute_of_hour else f"{hours} h"


_DURATION_PART = re.compile(r"([0-9]+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """A wall-clock duration: whole numbers with units s, m, h, d or w (``90s``, ``15m``,
    ``1h30m``, ``2w``), or ``0``; case and surrounding blanks do not matter. ``ValueError``
    otherwise; callers add their own limits and words."""
    cleaned = text.strip().lower()
    if cleaned == "0":
        return timedelta(0)
    parts = _DURATION_PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"invalid duration {text!r}")
    try:
        return timedelta(seconds=sum(int(n) * _UNIT_S[u] for n, u in parts))
    except OverflowError:  # more than 999,999,999 days
        raise ValueError(f"duration {text!r} is too long") from None


def load_zone(name: str) -> ZoneInfo:
    """An IANA time zone; a ``ValueError`` for names the zone database lacks."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # ZoneInfo raises ValueError for keys like "../x" and a KeyError subclass for unknown ones.
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'America/New_York'"
        ) from None


def display_zone(name: str | None) -> tzinfo | None:
    """``[incidents] timezone`` when set; None means this host's local zone."""
    return load_zone(name) if name else None


def local(instant: datetime, zone: tzinfo | None) -> str:
    """``2026-11-22 10:01 CET`` in the display zone."""
    shown = instant.astimezone(zone)
    return shown.strftime("%Y-%m-%d %H:%M ") + (shown.tzname() or shown.strftime("%z"))


def ago(instant: datetime, now: datetime) -> str:
    """``12 min ago``, or ``in 5 min`` for an instant still to come."""
    delta = (now - instant).total_seconds()
    return f"in {span(delta)}" if delta < 0 else f"{span(delta)} ago"

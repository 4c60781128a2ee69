"""Scales and tick labels: where a value or an instant falls on the plot, which round values
and instants get a tick, and how their labels read (``1.5 s``, ``2 h``, ``512 MiB``, ``14:00``,
``07 Dec``, ``Mar``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo

LIMIT = 1e18
"""Values beyond ±LIMIT are drawn at the limit: no figure mailwatch keeps comes near, and the
arithmetic of a scale stays finite."""

_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_TIME_STEPS_S = (
    _MINUTE,
    5 * _MINUTE,
    10 * _MINUTE,
    15 * _MINUTE,
    30 * _MINUTE,
    _HOUR,
    2 * _HOUR,
    3 * _HOUR,
    6 * _HOUR,
    12 * _HOUR,
    _DAY,
    2 * _DAY,
    7 * _DAY,
    14 * _DAY,
)
_MONTH_STEPS = (1, 2, 3, 6, 12)
_DURATION_STEPS_S = (
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    3 * 3600.0,
    6 * 3600.0,
    12 * 3600.0,
    86400.0,
    2 * 86400.0,
    7 * 86400.0,
)


def clamp(value: float) -> float:
    return max(-LIMIT, min(LIMIT, value))


def aware(instant: datetime) -> datetime:
    """A naive instant is taken as UTC."""
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at least ``raw``."""
    exponent = math.floor(math.log10(raw))
    base = 10.0**exponent
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * base >= raw * (1 - 1e-9):
            return factor * base
    return 10.0 * base


def value_ticks(low: float, high: float, unit: str, count: int = 5) -> list[float]:
    """Round tick values covering ``low`` to ``high`` (the first ≤ low, the last ≥ high), about
    ``count`` of them; durations of minutes and more step by whole minutes and hours."""
    low, high = clamp(low), clamp(high)
    if not high > low:
        pad = abs(high) * 0.1 or 1.0
        # All zero (a queue that never grew): 0 to 1, not -1 to 1.
        low, high = (low, high + pad) if low == 0 else (low - pad, high + pad)
    raw = (high - low) / max(1, count - 1)
    step = _nice_step(raw)
    if unit == "s" and raw > 60:
        step = next((s for s in _DURATION_STEPS_S if s >= raw), step)
    elif unit in ("B", "B/s") and raw >= 1024:
        power = 1024.0 ** math.floor(math.log(raw, 1024))
        step = _nice_step(raw / power) * power
    first = math.floor(low / step)
    last = math.ceil(high / step)
    if last - first > 4 * count:  # float noise at the extremes: keep it bounded
        last = first + 4 * count
    return [(first + i) * step for i in range(last - first + 1)]


def _number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e15 or magnitude < 1e-4:
        return f"{value:.2g}"
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e4)):
        if magnitude >= scale:
            divisor = 1e3 if suffix == "k" else scale
            return f"{value / divisor:.3g}{suffix}"
    return f"{value:.3g}" if magnitude < 1000 else f"{value:.0f}"


def format_value(value: float, unit: str) -> str:
    """A value with its unit as a label reads: ``2.5 s``, ``4 h``, ``97 %``, ``1.5 GiB``,
    ``12 messages``."""
    if not math.isfinite(value):
        return str(value)
    if unit == "s" and abs(value) >= 120:
        return _duration(value)
    if unit in ("B", "B/s"):
        magnitude = abs(value)
        for prefix in ("Ti", "Gi", "Mi", "Ki"):
            scale = 1024.0 ** ("KMGT".index(prefix[0]) + 1)
            if magnitude >= scale:
                return f"{_number(value / scale)} {prefix}{unit}"
        return f"{_number(value)} {unit}"
    if unit == "%":
        return f"{_number(value)} %"
    return f"{_number(value)} {unit}".rstrip()


UNITS_AT_TICKS = frozenset({"s", "%", "B", "B/s"})
"""Units a tick label carries; a count's noun (``messages``) is said once, in the title."""


def tick_label(value: float, unit: str) -> str:
    """A tick's label: ``format_value`` for units of measure, the bare number for counts."""
    return format_value(value, unit) if unit in UNITS_AT_TICKS else format_value(value, "")


def _duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    magnitude = abs(seconds)
    for name, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if magnitude >= size * (2 if name == "d" else 1):
            return f"{sign}{_number(magnitude / size)} {name}"
    return f"{sign}{_number(magnitude)} s"


def time_ticks(
    start: datetime, end: datetime, zone: tzinfo | None, count: int = 6
) -> list[tuple[datetime, str]]:
    """Round instants between ``start`` and ``end`` in the display zone, at most about
    ``count``, each with its label: ``14:30`` within a day (the date at midnight), ``07 Dec``
    for days, ``Mar`` (the year in January) for months."""
    start, end = aware(start), aware(end)
    span_s = (end - start).total_seconds()
    if not span_s > 0:
        return []
    step_s = next((s for s in _TIME_STEPS_S if span_s / s <= count), None)
    if step_s is None:
        return _month_ticks(start, end, zone, count)
    first = start.astimezone(zone)
    midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
    ticks: list[tuple[datetime, str]] = []
    if step_s < _DAY:
        offset = (first - midnight).total_seconds()
        wall = midnight.replace(tzinfo=None) + timedelta(
            seconds=math.ceil(offset / step_s) * step_s
        )
    else:
        wall = midnight.replace(tzinfo=None)
        if midnight < first:
            wall += timedelta(days=1)
        if step_s == 7 * _DAY:  # weeks start on Monday
            wall += timedelta(days=(7 - wall.weekday()) % 7)
    while len(ticks) <= count * 2:
        instant = wall.replace(tzinfo=first.tzinfo).astimezone(UTC)
        if instant > end:
            break
        if instant >= start:
            shown = instant.astimezone(zone)
            at_midnight = shown.hour == 0 and shown.minute == 0
            label = (
                shown.strftime("%d %b")
                if step_s >= _DAY or at_midnight
                else shown.strftime("%H:%M")
            )
            ticks.append((instant, label))
        wall += timedelta(seconds=step_s)
    return ticks


def _month_ticks(
    start: datetime, end: datetime, zone: tzinfo | None, count: int
) -> list[tuple[datetime, str]]:
    first = start.astimezone(zone)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    step = next((m for m in _MONTH_STEPS if months / m <= count + 1), 12)
    year, month = first.year, first.month
    ticks: list[tuple[datetime, str]] = []
    for _ in range(count * 2 * 12 + 12):  # bounded: an absurd range gets its first ticks only
        if len(ticks) > count * 2:
            break
        try:
            wall = datetime(year, month, 1)
        except ValueError:  # beyond year 9999
            break
        instant = wall.replace(tzinfo=first.tzinfo).astimezone(UTC)
        if instant > end:
            break
        if instant >= start and (month - 1) % step == 0:
            ticks.append((instant, wall.strftime("%Y" if month == 1 else "%b")))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return ticks

"""Instants and durations: the one way mailwatch writes, reads and says them.

Instants travel as ISO 8601 with their offset (payloads, the status file, JSON output);
``span`` says a duration the way a person reads it at a glance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


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


def span(seconds: float) -> str:
    """A rounded duration a person reads at a glance: ``45 s``, ``12 min``, ``3 h 5 min``,
    ``4 days``."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"

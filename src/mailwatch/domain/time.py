"""Instants and durations: the one way mailwatch writes, reads and says them.

Instants travel as ISO 8601 with their offset (payloads, the status file, JSON output);
``parse_duration`` reads a wall-clock duration as operators write it; ``span`` says a
duration the way a person reads it at a glance.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
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
    return timedelta(seconds=sum(int(n) * _UNIT_S[u] for n, u in parts))

"""Times for people: a display zone, local clock times, and "12 min ago" spans.

Shared by the ticket commands and the status file, so both read the same way.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from mailwatch.domain.time import span
from mailwatch.sla.calendar import load_zone


def display_zone(name: str | None) -> tzinfo | None:
    """``[incidents] timezone`` when set; None means this host's local zone."""
    return load_zone(name) if name else None


def local(instant: datetime, zone: tzinfo | None) -> str:
    """``2026-11-22 10:01 CET`` in the display zone."""
    shown = instant.astimezone(zone)
    return shown.strftime("%Y-%m-%d %H:%M ") + (shown.tzname() or shown.strftime("%z"))


def ago(instant: datetime, now: datetime) -> str:
    delta = (now - instant).total_seconds()
    return f"in {span(delta)}" if delta < 0 else f"{span(delta)} ago"

"""SLA clocks and instants as the pages show them."""

from __future__ import annotations

from datetime import datetime, tzinfo

from mailwatch.domain.time import ago, local, span
from mailwatch.web.html import esc


def when(instant: datetime | None, now: datetime, zone: tzinfo | None) -> str:
    """``2026-12-07 10:01 CET (12 min ago)`` as HTML; ``-`` for none."""
    if instant is None:
        return "-"
    shown = f'<time datetime="{esc(instant.isoformat())}">{esc(local(instant, zone))}</time>'
    return f"{shown} ({esc(ago(instant, now))})"


def countdown(
    deadline: datetime | None, now: datetime, *, met: bool, breached: bool, zone: tzinfo | None
) -> str:
    """A deadline as HTML: ``in 2 h 10 min``, ``overdue by 5 min`` (marked late), ``met``."""
    if deadline is None:
        return "no target"
    at = f'<time datetime="{esc(deadline.isoformat())}">{esc(local(deadline, zone))}</time>'
    if met:
        return f"{'met late' if breached else 'met'} ({at})"
    left = (deadline - now).total_seconds()
    if left <= 0:
        return f'<span class="late">overdue by {esc(span(left))}</span> ({at})'
    return f"in {esc(span(left))} ({at})"

"""SLA clocks: business calendars, durations and the deadlines a vendor promised.

Everything here is pure arithmetic on aware datetimes; config models live in
``mailwatch.config.sla``.
"""

from __future__ import annotations

from mailwatch.sla.calendar import BusinessCalendar, DailyHours, localize
from mailwatch.sla.deadlines import (
    SEVERITIES,
    Deadlines,
    add_duration,
    compute_deadlines,
    sla_report,
)
from mailwatch.sla.durations import DurationUnit, SlaDuration

__all__ = [
    "SEVERITIES",
    "BusinessCalendar",
    "DailyHours",
    "Deadlines",
    "DurationUnit",
    "SlaDuration",
    "add_duration",
    "compute_deadlines",
    "localize",
    "sla_report",
]

"""What a chart shows: series of points over a time range, threshold lines and shaded spans.

Plain frozen values; ``mailwatch.charts.svg`` draws them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo


@dataclass(frozen=True, slots=True)
class Point:
    """One bucket (or one reading): its start, its value, and optionally the band it spans
    (``low`` to ``high``, a bucket's min and max). A None or NaN value is a gap."""

    at: datetime
    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """One line. Points farther apart than 1.5 × ``step_s`` are not joined: a bucket that is
    missing (no result in it) shows as a gap, not as a straight line across it."""

    label: str
    points: Sequence[Point]
    step_s: float | None = None


class Level(enum.StrEnum):
    """Which threshold a line is."""

    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Threshold:
    """A horizontal line at ``value``: the check's warning or critical level for the figure."""

    level: Level
    value: float


class ShadeKind(enum.StrEnum):
    """What a shaded span stands for."""

    TICKET = "ticket"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class Shade:
    """A span of time shaded across the plot: a ticket open, a maintenance window.
    ``end`` None means still going."""

    kind: ShadeKind
    start: datetime
    end: datetime | None
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """One graph: ``title`` and ``unit`` (``s``, ``%``, ``B``, ``B/s``, ``days``, or a count's
    noun such as ``messages``) label it; ``start`` to ``end`` is the time axis; ``zone`` the
    time zone of its labels (None: this host's). ``ident`` makes the SVG's element ids unique
    on a page that holds several charts."""

    title: str
    unit: str
    start: datetime
    end: datetime
    series: Sequence[Series] = ()
    thresholds: Sequence[Threshold] = ()
    shades: Sequence[Shade] = ()
    zone: tzinfo | None = None
    ident: str = "chart"

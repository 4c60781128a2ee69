"""The history tables read lean, for the health report: a year of one check is 8,760 hourly rows
per figure, so these select only the columns the report uses, as plain tuples, parse a row's
JSON only when it says something, and add the sites' rows of one hour together.
(``store.history``'s series build a bucket object per row, for graphs of a few hundred.)"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.history import HOUR_WIDTH_S
from mailwatch.store.schema import history_availability, history_figures


@dataclass(frozen=True, slots=True)
class HourStates:
    """One hour of a check's results by state (every site's together), and the failed ones by
    stage."""

    start_s: int
    ok: int
    warning: int
    critical: int
    unknown: int
    stages: dict[str, int]


@dataclass(frozen=True, slots=True)
class HourFigure:
    """One hour of a figure (every site's together): count, sum, min, max and, when asked for,
    the sketch's bins."""

    start_s: int
    count: int
    total: float
    min: float
    max: float
    bins: dict[str, int] | None


def _span(start: datetime, end: datetime) -> tuple[int, int]:
    first = math.floor(start.timestamp())
    return first - first % HOUR_WIDTH_S, math.ceil(end.timestamp())


_STATES = (
    select(
        history_availability.c.start_s,
        history_availability.c.ok,
        history_availability.c.warning,
        history_availability.c.critical,
        history_availability.c.unknown,
        history_availability.c.stages,
    )
    .where(
        history_availability.c.check_name == bindparam("check"),
        history_availability.c.width_s == HOUR_WIDTH_S,
        history_availability.c.start_s >= bindparam("first"),
        history_availability.c.start_s < bindparam("last"),
    )
    .order_by(history_availability.c.start_s)
)


async def hourly_states(
    conn: AsyncConnection, check: str, start: datetime, end: datetime
) -> list[HourStates]:
    """The hours of [start, end) with results of ``check``, oldest first."""
    first, last = _span(start, end)
    rows = await conn.execute(_STATES, {"check": check, "first": first, "last": last})
    found: list[HourStates] = []
    for start_s, ok, warning, critical, unknown, stages_json in rows:
        stages = json.loads(stages_json) if stages_json != "{}" else {}
        if found and found[-1].start_s == start_s:
            before = found.pop()
            for stage, n in before.stages.items():
                stages[stage] = stages.get(stage, 0) + n
            ok, warning = ok + before.ok, warning + before.warning
            critical, unknown = critical + before.critical, unknown + before.unknown
        found.append(HourStates(start_s, ok, warning, critical, unknown, stages))
    return found


def _figure_rows(with_sketch: bool) -> Select[Any]:
    columns = [
        history_figures.c.start_s,
        history_figures.c.value_count,
        history_figures.c.total,
        history_figures.c.min_value,
        history_figures.c.max_value,
    ]
    if with_sketch:
        columns.append(history_figures.c.sketch)
    return (
        select(*columns)
        .where(
            history_figures.c.check_name == bindparam("check"),
            history_figures.c.figure == bindparam("figure"),
            history_figures.c.width_s == HOUR_WIDTH_S,
            history_figures.c.start_s >= bindparam("first"),
            history_figures.c.start_s < bindparam("last"),
        )
        .order_by(history_figures.c.start_s)
    )


_WITH_SKETCH = _figure_rows(True)
_WITHOUT_SKETCH = _figure_rows(False)


async def hourly_figure(
    conn: AsyncConnection,
    check: str,
    figure: str,
    start: datetime,
    end: datetime,
    *,
    sketch: bool,
) -> list[HourFigure]:
    """The hours of [start, end) with values of ``check``'s ``figure``, oldest first; the
    sketch's bins only with ``sketch`` (parsing them is most of the cost)."""
    first, last = _span(start, end)
    statement = _WITH_SKETCH if sketch else _WITHOUT_SKETCH
    params = {"check": check, "figure": figure, "first": first, "last": last}
    found: list[HourFigure] = []
    for row in await conn.execute(statement, params):
        start_s, count, total, low, high = row[:5]
        bins: dict[str, int] | None = json.loads(row[5]) if sketch else None
        if found and found[-1].start_s == start_s:
            before = found.pop()
            if bins is not None and before.bins is not None:
                for key, n in before.bins.items():
                    bins[key] = bins.get(key, 0) + n
            count, total = count + before.count, total + before.total
            low, high = min(low, before.min), max(high, before.max)
        found.append(HourFigure(start_s, count, total, low, high, bins))
    return found


@dataclass(frozen=True, slots=True)
class PeriodFigure:
    """A figure over one of the periods asked for (every site's and hour's rows together):
    count, sum, max, and the sketches' bins added up."""

    index: int
    count: int
    total: float
    max: float
    bins: dict[str, int]


async def figure_by_period(
    conn: AsyncConnection, check: str, figure: str, starts: Sequence[datetime], end: datetime
) -> list[PeriodFigure]:
    """``check``'s ``figure`` over each period [starts[i], starts[i + 1]) (the last up to
    ``end``), by index, for the periods with values. The database adds the hours up (one row per
    period, its sketches joined into one JSON array) instead of handing over a row an hour: a
    year of one check is 8,760 hourly rows, and reading them one by one was most of the
    report's read."""
    # An hour belongs to the period its start falls in (start_s is whole seconds).
    bounds = [math.ceil(at.timestamp()) for at in starts]
    first, last = bounds[0], math.ceil(end.timestamp())
    start_s = history_figures.c.start_s
    index = case(
        *((start_s < bound, i) for i, bound in enumerate(bounds[1:])), else_=len(bounds) - 1
    ).label("period")
    statement = (
        select(
            index,
            func.sum(history_figures.c.value_count),
            func.sum(history_figures.c.total),
            func.max(history_figures.c.max_value),
            func.aggregate_strings(history_figures.c.sketch, ","),
        )
        .where(
            history_figures.c.check_name == check,
            history_figures.c.figure == figure,
            history_figures.c.width_s == HOUR_WIDTH_S,
            start_s >= first,
            start_s < last,
        )
        .group_by(index)
        .order_by(index)
    )
    found = []
    for period, count, total, high, sketches in await conn.execute(statement):
        bins: dict[str, int] = {}
        for sketch in json.loads(f"[{sketches}]"):
            for key, n in sketch.items():
                bins[key] = bins.get(key, 0) + n
        found.append(PeriodFigure(period, count, total, high, bins))
    return found

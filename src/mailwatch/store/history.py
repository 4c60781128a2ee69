"""History in the database: each result added to its check's 5-minute and 1-hour buckets
(``record_result``, inside the processor's transaction), the series the graphs and the report
read (``figure_series``, ``availability_series``, ``check_figures``), and pruning by age, one
check at a time (``history_checks``, ``prune_check_history``).

Adding to a bucket is one upsert per table (``INSERT … ON CONFLICT DO UPDATE``, SQLite's and
PostgreSQL's own spelling of it through their SQLAlchemy dialects) whose update adds the
counts and merges the sketch's JSON in SQL, so two nodes adding to one bucket at once both
count: the row is locked by the conflict, and PostgreSQL's SERIALIZABLE transactions that
still collide are run again by ``store.retry.retrying`` (the processor's). docs/history.md.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from mailwatch.domain.history import (
    FINE_DAYS,
    FINE_WIDTH_S,
    HOUR_WIDTH_S,
    STORED_WIDTHS_S,
    AvailabilityBucket,
    FigureBucket,
    Sketch,
    StateCounts,
    bin_key,
    result_at,
    result_figures,
)
from mailwatch.domain.results import CheckResult, State
from mailwatch.store.schema import history_availability, history_figures

_DAY_S = 86400

# The JSON objects of a stored row and of the row being added, merged by adding the counts
# of equal keys (``{}`` when both are empty). Each dialect spells it with its own JSON
# functions; the rest of the statement is shared.
_MERGE_JSON = {
    "sqlite": (
        "coalesce((SELECT json_group_object(k, n) FROM (SELECT key AS k, sum(value) AS n FROM "
        "(SELECT key, value FROM json_each({table}.{column}) UNION ALL "
        "SELECT key, value FROM json_each(excluded.{column})) GROUP BY key)), '{{}}')"
    ),
    "postgresql": (
        "coalesce((SELECT jsonb_object_agg(k, n)::text FROM (SELECT key AS k, "
        "sum(value::bigint) AS n FROM (SELECT key, value FROM "
        "json_each_text({table}.{column}::json) UNION ALL "
        "SELECT key, value FROM json_each_text(excluded.{column}::json)) AS u GROUP BY key) "
        "AS s), '{{}}')"
    ),
}

_ADDED_UP = {
    history_figures: ("value_count", "failures", "total"),
    history_availability: (
        "ok",
        "warning",
        "critical",
        "unknown",
        "quiet_ok",
        "quiet_warning",
        "quiet_critical",
        "quiet_unknown",
    ),
}

_UPSERTS: dict[tuple[str, str], Insert] = {}


def _upsert(dialect: str, table: Table) -> Insert:
    """The statement adding one bucket to ``table``, built once per dialect."""
    found = _UPSERTS.get((dialect, table.name))
    if found is not None:
        return found
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    excluded = statement.excluded
    values: dict[str, Any] = {name: table.c[name] + excluded[name] for name in _ADDED_UP[table]}
    json_column = "sketch" if table is history_figures else "stages"
    merge = _MERGE_JSON["postgresql" if dialect == "postgresql" else "sqlite"]
    values[json_column] = literal_column(merge.format(table=table.name, column=json_column))
    if table is history_figures:
        values["min_value"] = case(
            (excluded.min_value < table.c.min_value, excluded.min_value),
            else_=table.c.min_value,
        )
        values["max_value"] = case(
            (excluded.max_value > table.c.max_value, excluded.max_value),
            else_=table.c.max_value,
        )
    keys = [column.name for column in table.primary_key.columns]
    built: Insert = statement.on_conflict_do_update(index_elements=keys, set_=values)
    _UPSERTS[(dialect, table.name)] = built
    return built


def _json(value: dict[str, int]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _epoch_s(at: datetime) -> int:
    return math.floor(at.timestamp())


_FIGURE_COLUMNS = tuple(column.name for column in history_figures.columns)
_AVAILABILITY_COLUMNS = tuple(column.name for column in history_availability.columns)
_DRIVER_SQL: dict[tuple[str, str], tuple[str, tuple[str, ...] | None]] = {}


def _driver_sql(dialect: Dialect, table: Table) -> tuple[str, tuple[str, ...] | None]:
    """The upsert as the driver's own SQL, with the order of its positional parameters (None
    for a driver taking names). Compiled once: SQLAlchemy's per-execution work for ~20 rows
    was half of what history cost a result (docs/performance.md)."""
    found = _DRIVER_SQL.get((dialect.name, table.name))
    if found is None:
        compiled = _upsert(dialect.name, table).compile(dialect=dialect)
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        found = _DRIVER_SQL[(dialect.name, table.name)] = (compiled.string, order)
    return found


async def _execute_many(
    conn: AsyncConnection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    sql, order = _driver_sql(conn.dialect, table)
    if order is None:
        await conn.exec_driver_sql(sql, [dict(zip(columns, row, strict=True)) for row in rows])
        return
    if order != columns:
        position = [columns.index(name) for name in order]
        rows = [tuple(row[i] for i in position) for row in rows]
    await conn.exec_driver_sql(sql, rows)


async def record_result(conn: AsyncConnection, result: CheckResult, site: str, quiet: bool) -> None:
    """Add ``result`` to its check's 5-minute and 1-hour buckets: each figure
    (``domain.history.result_figures``) and the availability. ``site`` is the site that ran
    it for a check run from several sites, ``""`` otherwise; ``quiet`` whether a quiet period
    covered the check when it was recorded."""
    at_s = _epoch_s(result_at(result))
    failed = 0 if result.state is State.OK else 1
    # The bin keys are digits, "-", "n" and "z": no JSON escaping needed.
    figures = [
        (figure, value, f'{{"{bin_key(value)}":1}}')
        for figure, value in result_figures(result).items()
    ]
    states = StateCounts.of(result.state)
    quieted = states if quiet else StateCounts()
    stages = _json({} if result.state is State.OK else {result.stage or "": 1})
    check = result.check
    rows: list[tuple[Any, ...]] = []
    availability: list[tuple[Any, ...]] = []
    for width_s in STORED_WIDTHS_S:
        start_s = at_s - at_s % width_s
        rows += [
            (check, figure, width_s, start_s, site, 1, failed, value, value, value, sketch)
            for figure, value, sketch in figures
        ]
        availability.append(
            (
                check,
                width_s,
                start_s,
                site,
                states.ok,
                states.warning,
                states.critical,
                states.unknown,
                quieted.ok,
                quieted.warning,
                quieted.critical,
                quieted.unknown,
                stages,
            )
        )
    await _execute_many(conn, history_figures, _FIGURE_COLUMNS, rows)
    await _execute_many(conn, history_availability, _AVAILABILITY_COLUMNS, availability)


def stored_width(width_s: int) -> int:
    """The stored width a series of ``width_s`` is merged from: 1 hour for a whole number of
    hours, else 5 minutes for a whole number of those. ``ValueError`` for any other width."""
    if width_s > 0 and width_s % HOUR_WIDTH_S == 0:
        return HOUR_WIDTH_S
    if width_s > 0 and width_s % FINE_WIDTH_S == 0:
        return FINE_WIDTH_S
    raise ValueError(f"a history width must be a whole number of 5 minutes, not {width_s} s")


def _span_s(start: datetime, end: datetime, width_s: int) -> tuple[int, int]:
    """[start, end) widened to whole buckets of ``width_s``, in Unix seconds."""
    first = _epoch_s(start)
    last = math.ceil(end.timestamp())
    return first - first % width_s, last + (-last) % width_s


_FIGURE_ROWS = select(
    history_figures.c.start_s,
    history_figures.c.site,
    history_figures.c.value_count,
    history_figures.c.failures,
    history_figures.c.total,
    history_figures.c.min_value,
    history_figures.c.max_value,
    history_figures.c.sketch,
).where(
    history_figures.c.check_name == bindparam("check"),
    history_figures.c.figure == bindparam("figure"),
    history_figures.c.width_s == bindparam("width"),
    history_figures.c.start_s >= bindparam("first"),
    history_figures.c.start_s < bindparam("last"),
)


class _FigureSum:
    """One bucket being merged from stored rows, added to in place: building a bucket per
    stored row and merging those cost ten times more for a year's graph."""

    __slots__ = ("bins", "count", "failures", "high", "low", "site", "total")

    def __init__(self, site: str) -> None:
        self.count = 0
        self.failures = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.bins: dict[str, int] = {}
        self.site: str | None = site


async def figure_series(
    conn: AsyncConnection,
    check: str,
    figure: str,
    start: datetime,
    end: datetime,
    width_s: int,
    site: str | None = None,
) -> list[FigureBucket]:
    """The buckets of ``width_s`` of one check's figure that overlap [start, end), oldest
    first; empty buckets (no result) are left out. Merged from the stored 1-hour buckets for a
    whole number of hours (a day: ``86400``), else from the 5-minute ones, which are kept
    ``FINE_DAYS`` only. ``site``: that site's results only; None: every site's together."""
    stored = stored_width(width_s)
    first, last = _span_s(start, end, width_s)
    statement = _FIGURE_ROWS
    if site is not None:
        statement = statement.where(history_figures.c.site == site)
    rows = await conn.execute(
        statement,
        {"check": check, "figure": figure, "width": stored, "first": first, "last": last},
    )
    sums: dict[int, _FigureSum] = {}
    loads = json.loads
    for start_s, row_site, count, failures, total, low, high, sketch in rows:
        key = start_s - start_s % width_s
        found = sums.get(key)
        if found is None:
            found = sums[key] = _FigureSum(row_site)
        elif found.site != row_site:
            found.site = None
        found.count += count
        found.failures += failures
        found.total += total
        found.low = min(found.low, low)
        found.high = max(found.high, high)
        bins = found.bins
        for bin_, n in loads(sketch).items():
            bins[bin_] = bins.get(bin_, 0) + n
    return [
        FigureBucket(
            check,
            figure,
            datetime.fromtimestamp(key, UTC),
            width_s,
            found.count,
            found.failures,
            found.total,
            found.low,
            found.high,
            Sketch(found.bins),
            found.site,
        )
        for key, found in sorted(sums.items())
    ]


_AVAILABILITY_ROWS = select(
    history_availability.c.start_s,
    history_availability.c.site,
    history_availability.c.ok,
    history_availability.c.warning,
    history_availability.c.critical,
    history_availability.c.unknown,
    history_availability.c.quiet_ok,
    history_availability.c.quiet_warning,
    history_availability.c.quiet_critical,
    history_availability.c.quiet_unknown,
    history_availability.c.stages,
).where(
    history_availability.c.check_name == bindparam("check"),
    history_availability.c.width_s == bindparam("width"),
    history_availability.c.start_s >= bindparam("first"),
    history_availability.c.start_s < bindparam("last"),
)


async def availability_series(
    conn: AsyncConnection,
    check: str,
    start: datetime,
    end: datetime,
    width_s: int,
    site: str | None = None,
) -> list[AvailabilityBucket]:
    """The availability buckets of ``width_s`` of one check that overlap [start, end), as
    ``figure_series`` reads figures."""
    stored = stored_width(width_s)
    first, last = _span_s(start, end, width_s)
    statement = _AVAILABILITY_ROWS
    if site is not None:
        statement = statement.where(history_availability.c.site == site)
    rows = await conn.execute(
        statement, {"check": check, "width": stored, "first": first, "last": last}
    )
    sums: dict[int, tuple[list[int], dict[str, int], list[str | None]]] = {}
    for start_s, row_site, *counts, stages in rows:
        key = start_s - start_s % width_s
        found = sums.get(key)
        if found is None:
            found = sums[key] = ([0] * 8, {}, [row_site])
        elif found[2][0] != row_site:
            found[2][0] = None
        added, by_stage, _ = found
        for i, n in enumerate(counts):
            added[i] += n
        for stage, n in json.loads(stages).items():
            by_stage[stage] = by_stage.get(stage, 0) + n
    return [
        AvailabilityBucket(
            check,
            datetime.fromtimestamp(key, UTC),
            width_s,
            StateCounts(*added[:4]),
            StateCounts(*added[4:]),
            by_stage,
            found_site[0],
        )
        for key, (added, by_stage, found_site) in sorted(sums.items())
    ]


async def check_figures(conn: AsyncConnection, check: str) -> list[str]:
    """The figures ``check`` has history of, in order of name. One index seek per figure."""
    return await _distinct(conn, history_figures.c.figure, history_figures.c.check_name == check)


async def check_sites(conn: AsyncConnection, check: str) -> list[str]:
    """The sites ``check``'s history was recorded at (``[""]`` for an ordinary check)."""
    rows = await conn.execute(
        select(history_availability.c.site)
        .where(history_availability.c.check_name == check)
        .distinct()
        .order_by(history_availability.c.site)
    )
    return [str(site) for site in rows.scalars()]


def keeping_days(width_s: int, history_days: int) -> int:
    """How long buckets of ``width_s`` are kept: ``history_days`` for 1-hour buckets,
    ``FINE_DAYS`` (at most ``history_days``) for 5-minute ones."""
    return history_days if width_s == HOUR_WIDTH_S else min(FINE_DAYS, history_days)


async def history_checks(conn: AsyncConnection) -> list[str]:
    """Every check with history, in order of name: one index seek per check."""
    return await _distinct(conn, history_availability.c.check_name)


async def prune_check_history(
    conn: AsyncConnection, check: str, now: datetime, history_days: int
) -> int:
    """Delete ``check``'s buckets older than their keeping (``keeping_days``); how many rows
    went. Each delete is a range of the primary key (check, figure, width, start)."""
    now_s = _epoch_s(now)
    deleted = 0
    figures = await check_figures(conn, check)
    for width_s in STORED_WIDTHS_S:
        cutoff_s = now_s - keeping_days(width_s, history_days) * _DAY_S
        for figure in figures:
            gone = await conn.execute(
                _PRUNE_FIGURE,
                {"check": check, "figure": figure, "width": width_s, "cutoff": cutoff_s},
            )
            deleted += int(gone.rowcount)
        gone = await conn.execute(
            _PRUNE_AVAILABILITY, {"check": check, "width": width_s, "cutoff": cutoff_s}
        )
        deleted += int(gone.rowcount)
    return deleted


_PRUNE_FIGURE = delete(history_figures).where(
    history_figures.c.check_name == bindparam("check"),
    history_figures.c.figure == bindparam("figure"),
    history_figures.c.width_s == bindparam("width"),
    history_figures.c.start_s < bindparam("cutoff"),
)
_PRUNE_AVAILABILITY = delete(history_availability).where(
    history_availability.c.check_name == bindparam("check"),
    history_availability.c.width_s == bindparam("width"),
    history_availability.c.start_s < bindparam("cutoff"),
)


async def _distinct(conn: AsyncConnection, column: ColumnElement[str], *where: Any) -> list[str]:
    """The distinct values of an indexed ``column`` (the first of the primary key after the
    columns ``where`` fixes), found by one seek each instead of a scan of every row."""
    found: list[str] = []
    while True:
        after = [column > found[-1]] if found else []
        value = (await conn.execute(select(func.min(column)).where(*where, *after))).scalar()
        if value is None:
            return found
        found.append(str(value))

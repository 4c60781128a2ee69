"""History in the database: each result added to its check's 5-minute and 1-hour buckets
(``record_result``, inside the processor's transaction), the series the graphs and the report
read (``figure_series``, ``availability_series``, ``check_figures``), and pruning by age.

Adding to a bucket is one upsert per table (``INSERT … ON CONFLICT DO UPDATE``, SQLite's and
PostgreSQL's own spelling of it through their SQLAlchemy dialects) whose update adds the
counts and merges the sketch's JSON in SQL, so two nodes adding to one bucket at once both
count: the row is locked by the conflict, and PostgreSQL's SERIALIZABLE transactions that
still collide are run again by ``store.retry.retrying`` (the processor's). docs/history.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, delete, func, literal_column, select
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
    merge_availability_buckets,
    merge_figure_buckets,
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


async def record_result(conn: AsyncConnection, result: CheckResult, site: str, quiet: bool) -> None:
    """Add ``result`` to its check's 5-minute and 1-hour buckets: each figure
    (``domain.history.result_figures``) and the availability. ``site`` is the site that ran
    it for a check run from several sites, ``""`` otherwise; ``quiet`` whether a quiet period
    covered the check when it was recorded."""
    at_s = _epoch_s(result_at(result))
    failed = 0 if result.state is State.OK else 1
    figures = result_figures(result)
    rows: list[dict[str, Any]] = []
    states = StateCounts.of(result.state)
    quieted = states if quiet else StateCounts()
    stages = _json({} if result.state is State.OK else {result.stage or "": 1})
    availability: list[dict[str, Any]] = []
    for width_s in STORED_WIDTHS_S:
        start_s = at_s - at_s % width_s
        for figure, value in figures.items():
            rows.append(
                {
                    "check_name": result.check,
                    "figure": figure,
                    "width_s": width_s,
                    "start_s": start_s,
                    "site": site,
                    "value_count": 1,
                    "failures": failed,
                    "total": value,
                    "min_value": value,
                    "max_value": value,
                    "sketch": _json({bin_key(value): 1}),
                }
            )
        availability.append(
            {
                "check_name": result.check,
                "width_s": width_s,
                "start_s": start_s,
                "site": site,
                "ok": states.ok,
                "warning": states.warning,
                "critical": states.critical,
                "unknown": states.unknown,
                "quiet_ok": quieted.ok,
                "quiet_warning": quieted.warning,
                "quiet_critical": quieted.critical,
                "quiet_unknown": quieted.unknown,
                "stages": stages,
            }
        )
    dialect = conn.dialect.name
    await conn.execute(_upsert(dialect, history_figures), rows)
    await conn.execute(_upsert(dialect, history_availability), availability)


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


_FIGURE_ROWS = select(history_figures).where(
    history_figures.c.check_name == bindparam("check"),
    history_figures.c.figure == bindparam("figure"),
    history_figures.c.width_s == bindparam("width"),
    history_figures.c.start_s >= bindparam("first"),
    history_figures.c.start_s < bindparam("last"),
)


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
    buckets = [
        FigureBucket(
            check=row.check_name,
            figure=row.figure,
            start=datetime.fromtimestamp(row.start_s, UTC),
            width_s=stored,
            count=row.value_count,
            failures=row.failures,
            total=row.total,
            min=row.min_value,
            max=row.max_value,
            sketch=Sketch(json.loads(row.sketch)),
            site=row.site,
        )
        for row in rows
    ]
    return merge_figure_buckets(buckets, width_s)


_AVAILABILITY_ROWS = select(history_availability).where(
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
    buckets = [
        AvailabilityBucket(
            check=row.check_name,
            start=datetime.fromtimestamp(row.start_s, UTC),
            width_s=stored,
            states=StateCounts(row.ok, row.warning, row.critical, row.unknown),
            quiet=StateCounts(
                row.quiet_ok, row.quiet_warning, row.quiet_critical, row.quiet_unknown
            ),
            stages=json.loads(row.stages),
            site=row.site,
        )
        for row in rows
    ]
    return merge_availability_buckets(buckets, width_s)


async def check_figures(conn: AsyncConnection, check: str) -> list[str]:
    """The figures ``check`` has history of, in order of name. One index seek per figure."""
    figures: list[str] = []
    table = history_figures
    while True:
        where = [table.c.check_name == check]
        if figures:
            where.append(table.c.figure > figures[-1])
        found = (await conn.execute(select(func.min(table.c.figure)).where(*where))).scalar()
        if found is None:
            return figures
        figures.append(str(found))


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


async def prune_history(
    conn: AsyncConnection, now: datetime, history_days: int, at_most_s: int = HOUR_WIDTH_S
) -> int:
    """Delete buckets older than their keeping (``keeping_days``), those starting in the
    oldest ``at_most_s`` of each table and width only, so one transaction stays short; how
    many rows went. Call again, in a new transaction, until it returns 0."""
    now_s = _epoch_s(now)
    deleted = 0
    tables: Sequence[Table] = (history_figures, history_availability)
    for table in tables:
        for width_s in STORED_WIDTHS_S:
            cutoff_s = now_s - keeping_days(width_s, history_days) * _DAY_S
            oldest = (
                await conn.execute(
                    select(func.min(table.c.start_s)).where(table.c.width_s == width_s)
                )
            ).scalar()
            if oldest is None or oldest >= cutoff_s:
                continue
            gone = await conn.execute(
                delete(table).where(
                    and_(
                        table.c.width_s == width_s,
                        table.c.start_s < min(cutoff_s, int(oldest) + at_most_s),
                    )
                )
            )
            deleted += int(gone.rowcount)
    return deleted

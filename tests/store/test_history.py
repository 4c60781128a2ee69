"""History in the database, on SQLite and PostgreSQL: what two nodes add to the same buckets at
once reads back as the buckets of all their results (merged to wider widths on the way), per
site or together; the figures a check has; pruning by age."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from helpers.builders import T0, result
from mailwatch.alerts import upkeep
from mailwatch.domain.history import (
    FigureBucket,
    availability_bucket,
    figure_buckets,
    merge_availability_buckets,
    merge_figure_buckets,
)
from mailwatch.domain.results import CheckResult, State
from mailwatch.store.history import (
    availability_series,
    check_figures,
    check_sites,
    figure_series,
    history_checks,
    record_result,
)
from mailwatch.store.retry import retrying
from mailwatch.store.store import Store

SITES = ("dc1", "dc2")


def day_of_results(seed: int) -> list[tuple[str, CheckResult, bool]]:
    """A day and a half of one check's results, one a minute from each of two sites: a site,
    the result and whether a quiet period covered it."""
    draw = random.Random(seed)
    runs = []
    for minute in range(0, 36 * 60, 11):
        for site in SITES:
            state = draw.choice([State.OK] * 8 + [State.WARNING, State.CRITICAL, State.UNKNOWN])
            metrics = {"latency_s": draw.lognormvariate(1, 0.6), "days_left": draw.randint(-3, 90)}
            at = T0 + timedelta(minutes=minute, seconds=draw.randint(0, 59))
            runs.append((site, result(state, at, "canary", metrics=metrics), minute < 120))
    return runs


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two pools on one database, as two nodes have."""
    first = await Store.open(store_url)
    second = await Store.open(store_url)
    try:
        yield first, second
    finally:
        await second.close()
        await first.close()


async def add(store: Store, site: str, item: CheckResult, quiet: bool) -> None:
    async def transaction() -> None:
        async with store.write() as conn:
            await record_result(conn, item, site, quiet)

    await retrying("history test", transaction)


def same(read: list[FigureBucket], expected: list[FigureBucket]) -> None:
    assert [(b.start, b.count, b.failures, b.min, b.max, dict(b.sketch.bins)) for b in read] == [
        (b.start, b.count, b.failures, b.min, b.max, dict(b.sketch.bins)) for b in expected
    ]
    assert [b.total for b in read] == pytest.approx([b.total for b in expected])


async def test_two_nodes_adding_to_one_check_read_back_as_the_buckets_of_all_results(
    stores: tuple[Store, Store],
) -> None:
    runs = day_of_results(7)
    by_site = {site: [(s, r, q) for s, r, q in runs if s == site] for site in SITES}
    # Each site's node adds its own results, and both sites write the 'all sites' rows of a
    # check without run_from ("") into the very same buckets at the same time.
    await asyncio.gather(
        *(
            asyncio.gather(*(add(store, s, r, q) for s, r, q in by_site[site]))
            for store, site in zip(stores, SITES, strict=True)
        ),
        *(
            asyncio.gather(*(add(store, "", r, q) for _s, r, q in by_site[site]))
            for store, site in zip(stores, SITES, strict=True)
        ),
    )
    start, end = T0, T0 + timedelta(days=2)
    async with stores[0].read() as conn:
        assert await check_figures(conn, "canary") == ["days_left", "duration_s", "latency_s"]
        assert await check_figures(conn, "nothing") == []
        assert await check_sites(conn, "canary") == ["", "dc1", "dc2"]
        for width_s in (300, 3600, 86400):
            for site in ("", "dc1"):
                wanted = [r for s, r, _q in runs if site in ("", s)]
                expected = merge_figure_buckets(
                    [b for r in wanted for b in figure_buckets(r, 300) if b.figure == "latency_s"],
                    width_s,
                )
                read = await figure_series(conn, "canary", "latency_s", start, end, width_s, site)
                same(read, expected)
                availability = await availability_series(conn, "canary", start, end, width_s, site)
                quiet = [(r, q) for s, r, q in runs if site in ("", s)]
                assert availability == merge_availability_buckets(
                    [availability_bucket(r, 300, q, site) for r, q in quiet], width_s
                )
        # Every site together: the "" rows counted with the sites' own, i.e. twice.
        both = await availability_series(conn, "canary", start, end, 86400)
        assert sum(b.count for b in both) == 2 * len(runs)
        # A window inside the data: whole buckets overlapping it, the last one included.
        window = await figure_series(
            conn, "canary", "latency_s", T0 + timedelta(minutes=61), T0 + timedelta(hours=3), 3600
        )
        assert [b.start for b in window] == [T0 + timedelta(hours=h) for h in (1, 2)]
        with pytest.raises(ValueError, match="5 minutes"):
            await figure_series(conn, "canary", "latency_s", start, end, 90)


async def test_pruning_keeps_hours_for_history_days_and_five_minutes_for_35_days(
    stores: tuple[Store, Store],
) -> None:
    store = stores[0]
    for days in (0, 30, 40, 100):
        at = T0 + timedelta(days=days)
        await add(store, "", result(State.CRITICAL, at, "canary", metrics={"queue": 3}), False)
    # A figure named past the column's length, and one not a number, are left out: the
    # result itself must still be stored (on PostgreSQL a too long name would fail it).
    odd = {"queue": 1, "disk_" + "d" * 300 + "_free_bytes": 2.0, "ratio": float("nan")}
    await add(store, "", result(State.OK, T0, "other", metrics=odd), False)
    now = T0 + timedelta(days=101)
    async with store.read() as conn:
        assert await history_checks(conn) == ["canary", "other"]
        assert await check_figures(conn, "other") == ["duration_s", "queue"]
    # The daemon's hourly pass (the outbox sender's): every check, one transaction each.
    removed = await upkeep.prune_history(store, now, history_days=70)
    async with store.read() as conn:
        fine = await figure_series(conn, "canary", "queue", T0, now, 300)
        hourly = await figure_series(conn, "canary", "queue", T0, now, 3600)
        availability = await availability_series(conn, "canary", T0, now, 3600)
    # Five-minute buckets: only those of the last 35 days; hourly ones: of the last 70.
    assert [b.start for b in fine] == [T0 + timedelta(days=100)]
    assert [b.start for b in hourly] == [T0 + timedelta(days=d) for d in (40, 100)]
    assert [b.start for b in availability] == [T0 + timedelta(days=d) for d in (40, 100)]
    # Per result two figures (queue, duration_s) at two widths, and availability at two.
    # 5-minute rows of canary's 3 old results, hourly of 2; both of other's (2 figures).
    assert removed == 3 * (2 + 1) + 2 * (2 + 1) + 2 * (2 + 1)
    async with store.read() as conn:
        assert await availability_series(conn, "other", T0, now, 300) == []
        assert await history_checks(conn) == ["canary"]

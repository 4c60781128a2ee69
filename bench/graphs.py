"""``python -m bench.graphs``: the time to read and draw one check's 30-day graph.

Fills a fresh SQLite store with 30 days of one roundtrip check's history at one result a
minute (latency, send time and two Received hops: the buckets ``store.history.record_result``
writes, as the processor does for every result), then times, N times each:

- the latency graph alone: its hourly buckets read (``figure_series``) and drawn
  (``render_svg``), the figure issue 16 bounds at 50 ms;
- the check page's whole graphs section: every graph of the kind (``read_graphs``: figures,
  tickets, maintenance, availability) read in one transaction and drawn.

Prints the median and p95 of each in milliseconds. No servers needed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailwatch.charts import Chart, Level, Point, Series, Threshold, render_svg
from mailwatch.config import MailwatchConfig
from mailwatch.domain.results import CheckResult, State
from mailwatch.status.graphs import range_named, read_graphs
from mailwatch.store.history import figure_series, record_result
from mailwatch.store.store import Store

DAYS = 30
CHECK = "canary"


def _config(state_dir: Path) -> MailwatchConfig:
    return MailwatchConfig.model_validate(
        {
            "daemon": {"state_dir": str(state_dir)},
            "checks": {
                "roundtrip": [
                    {
                        "name": CHECK,
                        "mail_from": "mw@example.org",
                        "rcpt_to": "canary@example.org",
                        "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
                        "imap": {
                            "host": "127.0.0.1",
                            "tls": "none",
                            "username": "u",
                            "password": "p",
                        },
                    }
                ]
            },
        }
    )


async def _fill(store: Store, now: datetime) -> int:
    """A result a minute for DAYS days, written in transactions of a day each."""
    minutes = DAYS * 24 * 60
    for day in range(DAYS):
        async with store.write() as conn:
            for minute in range(day * 1440, (day + 1) * 1440):
                at = now - timedelta(minutes=minutes - minute)
                latency = 1.0 + (minute % 37) / 10
                result = CheckResult(
                    check=CHECK,
                    kind="roundtrip",
                    target=CHECK,
                    state=State.OK,
                    summary="ok",
                    started_at=at - timedelta(seconds=latency),
                    finished_at=at,
                    metrics={
                        "latency_s": latency,
                        "send_s": 0.05,
                        "hop_1_delay_s": latency * 0.3,
                        "hop_2_delay_s": latency * 0.7,
                    },
                )
                await record_result(conn, result, "", False)
    return minutes


async def _time(runs: int, work: Callable[[], Awaitable[str]]) -> list[float]:
    await work()  # warm: statements compiled, pages in the OS cache
    taken = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        taken.append((time.perf_counter() - started) * 1000)
    return taken


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"| {name} | {statistics.median(ordered):.1f} ms | {p95:.1f} ms | {len(ordered)} |"


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-graphs-") as tmp:
        config = _config(Path(tmp))
        store = await Store.open(config.store.resolved_url(Path(tmp)))
        try:
            now = datetime.now(UTC)
            started = time.perf_counter()
            results = await _fill(store, now)
            filled_s = time.perf_counter() - started
            check = config.check_named(CHECK)
            assert check is not None
            month = range_named("30d")
            start = now - timedelta(seconds=month.span_s)

            async def latency_graph() -> str:
                async with store.read() as conn:
                    buckets = await figure_series(
                        conn, CHECK, "latency_s", start, now, month.width_s
                    )
                points = [Point(b.start, b.mean, b.min, b.max) for b in buckets]
                return render_svg(
                    Chart(
                        "Roundtrip latency",
                        "s",
                        start,
                        now,
                        (Series("latency", points, month.width_s),),
                        (Threshold(Level.WARNING, 30.0), Threshold(Level.CRITICAL, 90.0)),
                    )
                )

            async def section() -> str:
                graphs = await read_graphs(store, config, check, month, now, UTC)
                return "".join(render_svg(g.chart) for g in graphs)

            one = await _time(runs, latency_graph)
            every = await _time(runs, section)
            drawn = await section()
        finally:
            await store.close()
    print(f"{results} results over {DAYS} days recorded in {filled_s:.1f} s (SQLite)")
    print("| 30-day graph (hourly buckets) | median | p95 | runs |")
    print("|---|---:|---:|---:|")
    print(_summary("latency graph: query + render", one))
    print(_summary("whole graphs section (4 graphs, 5 series): query + render", every))
    print(f"section SVG: {len(drawn) / 1024:.0f} KiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.graphs", description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="timed runs of each (50)")
    asyncio.run(main(parser.parse_args().runs))

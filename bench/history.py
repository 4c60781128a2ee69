"""History's cost: the CPU rollups add to each result, and the database's growth per check.

**CPU per result.** The incident processor (``process_result``) stores the results of 1,000
roundtrip checks, one result per check a minute of simulated time, each with a successful
round trip's metrics, in one process on a SQLite file. Paired runs alternate main's code path
(the history write replaced by a no-op, exactly the processor before history) and this
branch's; each run starts on a new database and is timed by the process's CPU clock (which
counts aiosqlite's thread). The figure is the median over pairs of (with - without) / results.

**Growth per check per year.** A SQLite file filled with one roundtrip check's history in its
steady state: a year of 1-hour buckets, then 35 days of 5-minute buckets, of each of its
figures and of its availability, built from a simulated result a minute; the growth of the
vacuumed file with each (the 5-minute part stays that size once 35 days are full).

    .venv/bin/python -m bench.history [--pairs 5] [--results 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.history import (
    FINE_DAYS,
    FINE_WIDTH_S,
    HOUR_WIDTH_S,
    Sketch,
    StateCounts,
)
from mailwatch.domain.results import CheckResult, State
from mailwatch.incidents import processor
from mailwatch.store.schema import history_availability, history_figures
from mailwatch.store.store import Store

ROUTES = 1000
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def roundtrip_metrics(draw: random.Random) -> dict[str, float]:
    """What a successful round trip's result carries (probes/roundtrip): the latency, the
    submission, the deadline, two Received hops' delays (whole seconds: Received headers give
    the time to the second), late canaries, two verdicts."""
    return {
        "send_s": round(draw.lognormvariate(-2.5, 0.3), 3),
        "deadline_s": 120.0,
        "latency_s": round(draw.lognormvariate(0.5, 0.4), 3),
        "hop_1_delay_s": float(draw.choice([0, 0, 0, 1])),
        "hop_2_delay_s": float(draw.choice([0, 0, 1, 1, 2])),
        "late_canaries": 0.0,
        "auth_dkim_pass": 1.0,
        "dkim_verified": 1.0,
    }


def config() -> MailwatchConfig:
    check = {
        "mail_from": "mw@example.org",
        "rcpt_to": "canary@example.org",
        "smtp": {"host": "mail.example.org", "tls": "none"},
        "imap": {"host": "mail.example.org", "tls": "none", "username": "u", "password": "p"},
    }
    checks = [{"name": f"route{i:04d}", **check} for i in range(ROUTES)]
    return MailwatchConfig.model_validate({"checks": {"roundtrip": checks}})


async def _no_history(*_args: Any) -> None:
    """Main's code path: the processor without the history write."""


async def one_run(cfg: MailwatchConfig, results: int, with_history: bool, seed: int) -> float:
    """CPU seconds ``results`` results took through the processor, on a new database."""
    draw = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="mw-bench-history-") as work:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(work) / 'mailwatch.db'}")
        original = processor.record_history
        if not with_history:
            processor.record_history = _no_history  # type: ignore[assignment]
        try:
            # A first round of every check, untimed: each check's first result creates its
            # state row, which later ones only update.
            items = []
            for i in range(ROUTES + results):
                now = T0 + timedelta(seconds=60 * i / ROUTES)
                name = f"route{i % ROUTES:04d}"
                items.append(
                    CheckResult(
                        name,
                        "roundtrip",
                        name,
                        State.OK,
                        "canary arrived",
                        now - timedelta(seconds=3),
                        now,
                        metrics=roundtrip_metrics(draw),
                    )
                )
            for item in items[:ROUTES]:
                await processor.process_result(store, cfg, item, item.finished_at)
            began = time.process_time()
            for item in items[ROUTES:]:
                await processor.process_result(store, cfg, item, item.finished_at)
            spent = time.process_time() - began
        finally:
            processor.record_history = original
            await store.close()
    return spent


async def cpu_per_result(pairs: int, results: int) -> dict[str, Any]:
    cfg = config()
    without: list[float] = []
    with_: list[float] = []
    for pair in range(pairs):
        # Alternate which goes first, so drift (caches, other load) falls on both.
        order = [False, True] if pair % 2 == 0 else [True, False]
        for history in order:
            spent = await one_run(cfg, results, history, seed=pair)
            (with_ if history else without).append(spent / results)
    added = [w - o for w, o in zip(with_, without, strict=True)]
    return {
        "results_per_run": results,
        "pairs": pairs,
        "without_ms": [round(x * 1000, 3) for x in without],
        "with_ms": [round(x * 1000, 3) for x in with_],
        "added_ms_median": round(statistics.median(added) * 1000, 3),
        "added_ms_max": round(max(added) * 1000, 3),
    }


def _json(value: dict[str, int]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _rows(
    check: str, width_s: int, buckets: int, end_s: int, draw: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``buckets`` of ``width_s`` ending at ``end_s``: figure rows and availability rows, from
    a simulated result a minute (one in 200 failed)."""
    figures: list[dict[str, Any]] = []
    availability: list[dict[str, Any]] = []
    per_bucket = width_s // 60
    for b in range(buckets):
        start_s = end_s - (buckets - b) * width_s
        runs = [roundtrip_metrics(draw) | {"duration_s": 0} for _ in range(per_bucket)]
        for run in runs:
            run["duration_s"] = round(run["latency_s"] + run["send_s"] + 0.05, 6)
        failed = sum(draw.random() < 0.005 for _ in runs)
        for figure in runs[0]:
            values = [run[figure] for run in runs]
            figures.append(
                {
                    "check_name": check,
                    "figure": figure,
                    "width_s": width_s,
                    "start_s": start_s,
                    "site": "",
                    "value_count": len(values),
                    "failures": failed,
                    "total": sum(values),
                    "min_value": min(values),
                    "max_value": max(values),
                    "sketch": _json(dict(Sketch.of(values).bins)),
                }
            )
        states = StateCounts(ok=len(runs) - failed, critical=failed)
        availability.append(
            {
                "check_name": check,
                "width_s": width_s,
                "start_s": start_s,
                "site": "",
                "ok": states.ok,
                "warning": 0,
                "critical": states.critical,
                "unknown": 0,
                "quiet_ok": 0,
                "quiet_warning": 0,
                "quiet_critical": 0,
                "quiet_unknown": 0,
                "stages": _json({"not_delivered": failed} if failed else {}),
            }
        )
    return figures, availability


def _vacuumed_size(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        db.execute("VACUUM")
    return path.stat().st_size


async def growth_per_check_year() -> dict[str, Any]:
    draw = random.Random(1)
    end_s = int(T0.timestamp()) + 365 * 86400
    with tempfile.TemporaryDirectory(prefix="mw-bench-history-") as work:
        path = Path(work) / "mailwatch.db"
        url = f"sqlite+aiosqlite:///{path}"
        await (await Store.open(url)).close()
        empty = await asyncio.to_thread(_vacuumed_size, path)
        hourly = _rows("route0001", HOUR_WIDTH_S, 365 * 24, end_s, draw)
        fine = _rows("route0001", FINE_WIDTH_S, FINE_DAYS * 288, end_s, draw)
        sizes = []
        for figures, availability in (hourly, fine):
            store = await Store.open(url)
            try:
                async with store.write() as conn:
                    await conn.execute(insert(history_figures), figures)
                    await conn.execute(insert(history_availability), availability)
            finally:
                await store.close()
            sizes.append(await asyncio.to_thread(_vacuumed_size, path))
    sketch_bins = [len(json.loads(row["sketch"])) for row in hourly[0]]
    return {
        "figures": len({row["figure"] for row in hourly[0]}),
        "hourly_rows": len(hourly[0]) + len(hourly[1]),
        "fine_rows": len(fine[0]) + len(fine[1]),
        "hourly_bytes_per_year": sizes[0] - empty,
        "fine_bytes": sizes[1] - sizes[0],
        "mean_bins_per_hourly_sketch": round(statistics.mean(sketch_bins), 1),
    }


async def amain(pairs: int, results: int) -> dict[str, Any]:
    return {
        "cpu": await cpu_per_result(pairs, results),
        "growth": await growth_per_check_year(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--pairs", type=int, default=5, help="paired runs (5)")
    parser.add_argument("--results", type=int, default=3000, help="timed results per run (3000)")
    args = parser.parse_args(argv)
    found = asyncio.run(amain(args.pairs, args.results))
    cpu, growth = found["cpu"], found["growth"]
    print(
        f"CPU per result, {ROUTES} routes a minute, {cpu['pairs']} pairs of "
        f"{cpu['results_per_run']} results (SQLite):"
    )
    print(f"  main's path   ms: {cpu['without_ms']}")
    print(f"  with history  ms: {cpu['with_ms']}")
    print(f"  added by history: median {cpu['added_ms_median']} ms, max {cpu['added_ms_max']} ms")
    print(
        f"Database per roundtrip check ({growth['figures']} figures, "
        f"{growth['mean_bins_per_hourly_sketch']} bins per hourly sketch, SQLite, vacuumed):"
    )
    print(
        f"  growth per year, hourly buckets ({growth['hourly_rows']} rows): "
        f"{growth['hourly_bytes_per_year']:,} bytes"
    )
    print(
        f"  5-minute buckets of {FINE_DAYS} days, the same size once full "
        f"({growth['fine_rows']} rows): {growth['fine_bytes']:,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Alert latency: from a ticket opening to the alert held by an HTTP receiver.

Each run feeds the incident processor one failing result of a new check (``open_after = 1``,
so it opens a ticket and queues its notice in the same transaction), wakes the outbox sender
as the daemon does, and stops the clock when a loopback HTTP server has received apprise's
``json://`` POST. The sender runs its real loop (claim, render, apprise, settle) on a real
SQLite file; ``group_wait_s = 0``.

    .venv/bin/python -m bench.alert_latency [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))  # the loopback HTTP receiver the tests use

from helpers.http_receiver import HttpReceiver  # noqa: E402
from mailwatch.alerts.sender import OutboxSender  # noqa: E402
from mailwatch.config.model import MailwatchConfig  # noqa: E402
from mailwatch.domain.results import CheckResult, State  # noqa: E402
from mailwatch.incidents.processor import process_result  # noqa: E402
from mailwatch.store.store import Store  # noqa: E402


def bench_config(url: str) -> MailwatchConfig:
    return MailwatchConfig.model_validate(
        {
            "incidents": {"open_after": 1},
            "routes": {"team": {"urls": [url]}},
            "outbox": {"group_wait_s": 0, "poll_interval_s": 1},
        }
    )


def failing(check: str, now: datetime) -> CheckResult:
    return CheckResult(
        check=check,
        kind="roundtrip",
        target=check,
        state=State.CRITICAL,
        summary="canary not delivered within 60 s",
        started_at=now,
        finished_at=now,
        stage="not_delivered",
        metrics={"latency_s": 60.0},
    )


async def measure(runs: int, state_dir: Path) -> list[float]:
    latencies = []
    with HttpReceiver() as receiver:
        config = bench_config(receiver.url("/alerts"))
        store = await Store.open(f"sqlite+aiosqlite:///{state_dir / 'mailwatch.db'}")
        sender = OutboxSender(store, lambda: config)
        loop = asyncio.create_task(sender.run(), name="outbox-sender")
        try:
            # One alert first, outside the figures: apprise loads its plugins once per process.
            await process_result(
                store, config, failing("warm-up", datetime.now(UTC)), datetime.now(UTC)
            )
            sender.wake()
            await asyncio.to_thread(receiver.wait_for, 1, 30.0)
            for run in range(runs):
                started = time.perf_counter()
                now = datetime.now(UTC)
                outcome = await process_result(store, config, failing(f"check-{run}", now), now)
                assert outcome.outbox_ids, "the failing result did not queue a notice"
                sender.wake()
                await asyncio.to_thread(receiver.wait_for, run + 2, 30.0)
                latencies.append(time.perf_counter() - started)
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await store.close()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alert_latency", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="tickets to open (default 20)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="mailwatch-alert-bench-") as tmp:
        latencies = asyncio.run(measure(args.runs, Path(tmp)))
    median = statistics.median(latencies)
    # Linear interpolation between closest ranks (as bench/stats.py's percentile does).
    p95 = (
        statistics.quantiles(latencies, n=20, method="inclusive")[18]
        if len(latencies) > 1
        else median
    )
    print(f"alert latency, ticket opening -> HTTP receiver, {len(latencies)} runs:")
    print(f"  median {median * 1000:.1f} ms")
    print(f"  p95    {p95 * 1000:.1f} ms")
    print(f"  min    {min(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

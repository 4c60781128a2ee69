"""The health report's cost: a one-year report for 20 checks (target ≤ 10 s), timed in its parts.

Writes a year of hourly results for 20 checks (mx, tls, dnsbl, service, roundtrip) through the
store's own ``record_result`` into a SQLite file (kept under ``--db`` and reused, since writing
175,200 results takes minutes), then times, median of ``--runs``: reading the history
(``report.load``), building the figures (``report.model``), and writing Markdown, HTML and PDF.
Usage: ``.venv/bin/python -m bench.health_report [--runs 3] [--db DIR]`` (docs/performance.md).

Each hourly bucket holds one result here; a check run every minute puts 60 in a bucket, which
reads the same number of rows but more sketch bins per row: ``--per-hour N`` writes N results an
hour to measure that (slower to set up).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mailwatch.config.loader import load_config
from mailwatch.domain.results import CheckResult, State
from mailwatch.report.html import render_html
from mailwatch.report.load import load_histories
from mailwatch.report.markdown import render_markdown
from mailwatch.report.model import build_report
from mailwatch.report.pdf import render_pdf
from mailwatch.store.history import record_result
from mailwatch.store.store import Store

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
CHECKS = 20
KINDS = ("mx", "tls", "dnsbl", "service")


def config_text(state: Path) -> str:
    blocks = []
    for i in range(CHECKS):
        kind = KINDS[i % len(KINDS)]
        name = f"{kind}-{i:02d}"
        body = {
            "mx": 'domain = "example.org"',
            "tls": 'protocol = "smtps"\nhost = "mx.example.org"',
            "dnsbl": 'ips = ["192.0.2.1"]',
            "service": 'protocol = "smtp"\nhost = "127.0.0.1"\nport = 25',
        }[kind]
        blocks.append(f'[[checks.{kind}]]\nname = "{name}"\n{body}\n')
    return f"""
[daemon]
state_dir = "{state}"

[[maintenance]]
name = "sunday"
days = ["sun"]
from = "02:00"
to = "04:00"
timezone = "UTC"

""" + "\n".join(blocks)


def results(name: str, kind: str, per_hour: int) -> list[tuple[CheckResult, bool]]:
    found = []
    step = timedelta(hours=1) / per_hour
    at = START
    i = 0
    while at < END:
        bad = i % 500 == 7
        metrics: dict[str, float] = {
            "mx": {"connect_s": 0.05 + (i * 7919 % 1000) / 2000, "lookup_s": 0.01},
            "tls": {"handshake_s": 0.08, "days_left": 90 - (i / per_hour / 24) % 90},
            "dnsbl": {"lookup_s": 0.02, "listings": 1.0 if bad else 0.0},
            "service": {"connect_s": 0.001 + (i % 13) / 1000},
        }[kind]
        state = State.CRITICAL if bad else State.OK
        quiet = at.weekday() == 6 and 2 <= at.hour < 4
        found.append(
            (
                CheckResult(
                    name, kind, name, state, "bench", at, at, "x" if bad else None, metrics
                ),
                quiet,
            )
        )
        at += step
        i += 1
    return found


async def fill(config_file: Path, per_hour: int) -> None:
    config = load_config(config_file)
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
    try:
        for check in config.checks:
            async with store.write() as conn:
                for result, quiet in results(check.name, check.kind, per_hour):
                    await record_result(conn, result, "", quiet)
            print(f"  wrote {check.name}", flush=True)
    finally:
        await store.close()


async def load(config_file: Path) -> Any:
    config = load_config(config_file)
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir), create=False)
    try:
        return await load_histories(store, config, list(config.checks), START, END, UTC)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.health_report")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", type=Path, default=Path("/tmp/mailwatch-bench-report"))
    parser.add_argument("--per-hour", type=int, default=1)
    args = parser.parse_args()
    where = args.db / f"per-hour-{args.per_hour}"
    where.mkdir(parents=True, exist_ok=True)
    config_file = where / "mailwatch.toml"
    config_file.write_text(config_text(where / "state"), encoding="utf-8")
    if not (where / "state" / "mailwatch.db").exists():
        print(f"writing a year of {CHECKS} checks ({args.per_hour} result(s) an hour) ...")
        began = time.perf_counter()
        asyncio.run(fill(config_file, args.per_hour))
        print(f"  {time.perf_counter() - began:.0f} s")
    timings: dict[str, list[float]] = {}

    def timed(part: str, began: float) -> float:
        now = time.perf_counter()
        timings.setdefault(part, []).append(now - began)
        return now

    for _ in range(args.runs):
        began = start = time.perf_counter()
        histories = asyncio.run(load(config_file))
        began = timed("read the history", began)
        report = build_report(histories, START, END, now=END)
        began = timed("build the figures", began)
        render_markdown(report)
        began = timed("Markdown", began)
        render_html(report)
        began = timed("HTML", began)
        timed("read + build + HTML", start)
        began = time.perf_counter()
        pdf = render_pdf(report)
        timed("PDF (WeasyPrint)", began)
        timed("read + build + PDF", start)
    print(f"\none-year report, {CHECKS} checks, {args.per_hour} result(s) an hour; "
          f"median of {args.runs} (PDF {len(pdf) // 1024} KiB)")  # fmt: skip
    print("| part | seconds |\n|---|---|")
    for part, values in timings.items():
        print(f"| {part} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()

"""Part 3: N roundtrip checks (N mailboxes) every 60 s in one daemon, for a few minutes.

The daemon's CPU and RSS are read every second from outside (psutil), the servers' CPU too
(to tell whether they, not mailwatch, are the limit), and the whole machine's. At the end:
missed runs from the metrics endpoint, then the stored results (``check_results``) for the
p95 latency and the failures.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.daemon import DaemonProcess
from bench.servers import ServerCpuMeter, roundtrip_toml
from bench.stats import percentile
from harness.mailservers import MailServers

INTERVAL_S = 60.0
START_SPREAD_S = 60.0


@dataclass(frozen=True)
class Tick:
    t_s: float
    daemon_cpu_s: float
    daemon_rss_bytes: int
    postfix_cpu_s: float
    dovecot_cpu_s: float


def check_names(count: int) -> list[str]:
    """The checks' names, which are also their mailboxes' users."""
    return [f"check{i:04d}" for i in range(1, count + 1)]


def run(
    servers: MailServers,
    checks: int,
    minutes: float,
    work_dir: Path,
    env: dict[str, str],
    log: Any = print,
) -> dict[str, Any]:
    users = check_names(checks)
    servers.add_users(users)
    toml = "".join(roundtrip_toml(servers, name, name, INTERVAL_S) for name in users)
    daemon = DaemonProcess(work_dir, toml, env, start_spread_s=START_SPREAD_S)
    meter = ServerCpuMeter(servers)
    daemon.start(ready_timeout_s=120)
    ticks: list[Tick] = []
    try:
        began = datetime.now(UTC)
        start = time.monotonic()
        machine_before = psutil.cpu_times()
        window_s = minutes * 60
        next_log = 60.0
        while True:
            elapsed = time.monotonic() - start
            server = meter.read()
            ticks.append(
                Tick(
                    elapsed,
                    daemon.cpu_s(),
                    daemon.rss_bytes(),
                    server.postfix_s,
                    server.dovecot_s,
                )
            )
            if elapsed >= window_s:
                break
            if elapsed >= next_log:
                log(f"  scale {checks}: {elapsed / 60:.0f} of {minutes:g} min")
                next_log += 60
            time.sleep(min(1.0, window_s - elapsed))
        machine_after = psutil.cpu_times()
        metrics = daemon.metrics()
        peak_rss = daemon.peak_rss_bytes()
    finally:
        stopped = daemon.stop()
    results = [r for r in daemon.results(since=began) if r.started_at >= began]
    return summarize(
        checks, minutes, ticks, results, metrics, peak_rss, machine_before, machine_after, stopped
    )


def summarize(
    checks: int,
    minutes: float,
    ticks: list[Tick],
    results: list[Any],
    metrics: dict[str, float],
    peak_rss: int,
    machine_before: Any,
    machine_after: Any,
    exit_code: int,
) -> dict[str, Any]:
    first, last = ticks[0], ticks[-1]
    span = last.t_s - first.t_s
    latencies = [r.latency_s for r in results if r.latency_s is not None]
    by_state = Counter(r.state for r in results)
    stages = Counter(r.stage for r in results if r.state != 0)

    def pct(cpu_first: float, cpu_last: float) -> float:
        return 100 * (cpu_last - cpu_first) / span if span > 0 else 0.0

    busy = _busy_s(machine_after) - _busy_s(machine_before)
    total = sum(machine_after) - sum(machine_before)
    daemon_cpu_s = last.daemon_cpu_s - first.daemon_cpu_s
    return {
        "checks": checks,
        "minutes": minutes,
        "window_s": span,
        "probes": len(results),
        "expected_probes": round(checks * span / INTERVAL_S),
        "ok": by_state.get(0, 0),
        "not_ok": len(results) - by_state.get(0, 0),
        "failure_stages": dict(stages),
        "missed_runs": metrics.get("mailwatch_missed_runs_total", 0.0),
        "daemon_cpu_percent": pct(first.daemon_cpu_s, last.daemon_cpu_s),
        "daemon_cpu_s_per_probe": daemon_cpu_s / len(results) if results else None,
        "daemon_peak_rss_bytes": peak_rss,
        "daemon_rss_end_bytes": last.daemon_rss_bytes,
        "postfix_cpu_percent": pct(first.postfix_cpu_s, last.postfix_cpu_s),
        "dovecot_cpu_percent": pct(first.dovecot_cpu_s, last.dovecot_cpu_s),
        "machine_busy_percent": 100 * busy / total if total > 0 else 0.0,
        "machine_cores": psutil.cpu_count(),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "latency_max_s": max(latencies) if latencies else None,
        "daemon_exit_code": exit_code,
        "cpu_percent_by_minute": _by_minute(ticks),
        "rss_mb_by_minute": [
            round(t.daemon_rss_bytes / 1e6, 1) for t in ticks if t.t_s // 60 != (t.t_s - 1) // 60
        ],
    }


def _busy_s(times: Any) -> float:
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _by_minute(ticks: list[Tick]) -> list[float]:
    """The daemon's CPU % in each whole minute of the window (does it creep up?)."""
    out: list[float] = []
    minute = 1
    previous = ticks[0]
    for tick in ticks:
        if tick.t_s >= minute * 60:
            span = tick.t_s - previous.t_s
            out.append(round(100 * (tick.daemon_cpu_s - previous.daemon_cpu_s) / span, 1))
            previous = tick
            minute += 1
    return out

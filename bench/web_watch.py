"""What one person watching the overview live costs the daemon: ``mailwatch run`` with N
roundtrip checks a minute (as ``bench/scale.py``: the harness's Postfix and Dovecot, one
mailbox per check) and its web pages on, measured in windows of one check interval that
alternate between no browser and a Chromium (Debian's, through Playwright) showing the
overview with its live updates: unwatched, watched, watched, unwatched, ... (ABBA, so a drift
in the machine's load cancels). Each pair's difference is the watching's cost.

    sudo .venv/bin/python -m bench.web_watch [--checks 1000] [--pairs 3] [--window-s 60]

Target (issue 15): at most 2 % of a core above the same run unwatched. Figures go to
``bench/results/web-watch.json`` and are printed; docs/web.md keeps a run's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ROOT, report
from bench.daemon import DaemonProcess, free_port
from bench.scale import check_names
from bench.servers import client_env, roundtrip_toml, trust_bundle
from harness.mailservers import MailServers
from mailwatch.web.passwords import hash_password

CHROMIUM = Path("/usr/bin/chromium")
USER = "bench"
PASSWORD = "bench-watcher-password"
HASH_ENV = "MW_BENCH_WEB_HASH"
TARGET_PERCENT = 2.0


@dataclass(frozen=True)
class Window:
    watched: bool
    seconds: float
    daemon_cpu_s: float
    probes: int
    live_updates: int | None
    """Overview refreshes the page's script made in the window (watched windows)."""

    @property
    def cpu_percent(self) -> float:
        return 100 * self.daemon_cpu_s / self.seconds


def web_toml(port: int) -> str:
    return f"""
[web]
listen = "127.0.0.1:{port}"
cookie_secure = false

[web.users.{USER}]
password_hash = "env:{HASH_ENV}"
"""


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def measure(args: argparse.Namespace, servers: MailServers, work: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    users = check_names(args.checks)
    servers.add_users(users)
    env = client_env(servers, trust_bundle(servers, work / "ca-bundle.pem"))
    env[HASH_ENV] = hash_password(PASSWORD)
    env["PYTHONPATH"] = str(ROOT / "src")  # the daemon runs this checkout's code
    port = free_port()
    toml = "".join(roundtrip_toml(servers, name, name, args.window_s) for name in users)
    daemon = DaemonProcess(work / "daemon", toml + web_toml(port), env, args.window_s)
    base = f"http://127.0.0.1:{port}"
    daemon.start(ready_timeout_s=120)
    windows: list[Window] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/login")
            page.fill("#user", USER)
            page.fill("#password", PASSWORD)
            page.click("button")
            page.wait_for_url(f"{base}/")
            page.goto("about:blank")
            warm_s = 2 * args.window_s
            log(f"warming up for {warm_s:g} s: every check scheduled and run once")
            time.sleep(warm_s)
            order = [False, True, True, False] * ((args.pairs + 1) // 2)
            for i, watched in enumerate(order[: 2 * args.pairs]):
                if watched:
                    page.goto(f"{base}/")
                    page.wait_for_selector("body[data-live-connected='true']", timeout=30_000)
                    before_updates = int(page.get_attribute("body", "data-live-updates") or 0)
                else:
                    page.goto("about:blank")
                cpu_before, probes_before = daemon.cpu_s(), daemon.count_results()
                started = time.monotonic()
                time.sleep(args.window_s)
                seconds = time.monotonic() - started
                cpu_s = daemon.cpu_s() - cpu_before
                probes = daemon.count_results() - probes_before
                updates = None
                if watched:
                    now_updates = int(page.get_attribute("body", "data-live-updates") or 0)
                    updates = now_updates - before_updates
                window = Window(watched, seconds, cpu_s, probes, updates)
                windows.append(window)
                log(
                    f"window {i + 1}/{2 * args.pairs} {'watched' if watched else 'unwatched'}: "
                    f"{window.cpu_percent:.1f} % of a core, {probes} probes"
                    + (f", {updates} live updates" if updates is not None else "")
                )
            browser.close()
        metrics = daemon.metrics()
    finally:
        daemon.stop()
    return summarize(args, windows, metrics)


def summarize(
    args: argparse.Namespace, windows: list[Window], metrics: dict[str, float]
) -> dict[str, Any]:
    unwatched = [w for w in windows if not w.watched]
    watched = [w for w in windows if w.watched]
    differences = [b.cpu_percent - a.cpu_percent for a, b in zip(unwatched, watched, strict=True)]
    return {
        "command": "python -m bench.web_watch " + " ".join(sys.argv[1:]),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "checks": args.checks,
        "window_s": args.window_s,
        "pairs": args.pairs,
        "windows": [asdict(w) | {"cpu_percent": w.cpu_percent} for w in windows],
        "unwatched_cpu_percent_mean": statistics.fmean(w.cpu_percent for w in unwatched),
        "watched_cpu_percent_mean": statistics.fmean(w.cpu_percent for w in watched),
        "difference_percent_each_pair": differences,
        "difference_percent_mean": statistics.fmean(differences),
        "difference_percent_median": statistics.median(differences),
        "target_percent": TARGET_PERCENT,
        "missed_runs": metrics.get("mailwatch_missed_runs_total", 0.0),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.web_watch", description=__doc__)
    parser.add_argument("--checks", type=int, default=1000, help="roundtrip checks (1000)")
    parser.add_argument("--pairs", type=int, default=3, help="unwatched/watched pairs (3)")
    parser.add_argument(
        "--window-s",
        type=float,
        default=60.0,
        help="seconds per window, also the checks' interval: each runs once a window (60)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "web-watch.json")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: the mail server harness needs root", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"bench: {CHROMIUM} missing (apt-get install chromium)", file=sys.stderr)
        return 2
    servers = MailServers(lock_timeout_s=3600)
    log("starting Postfix and Dovecot (waits while another run holds the harness)")
    servers.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mailwatch-web-watch-") as tmp:
            figures = measure(args, servers, Path(tmp))
    finally:
        servers.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"{figures['checks']} roundtrip checks a minute, {figures['pairs']} pairs of "
        f"{figures['window_s']:g} s windows (unwatched, watched):"
    )
    for w in figures["windows"]:
        updates = "" if w["live_updates"] is None else f", {w['live_updates']} live updates"
        print(
            f"  {'watched  ' if w['watched'] else 'unwatched'} {w['cpu_percent']:5.1f} % "
            f"of a core, {w['probes']} probes{updates}"
        )
    print(
        f"daemon CPU unwatched {figures['unwatched_cpu_percent_mean']:.1f} %, watched "
        f"{figures['watched_cpu_percent_mean']:.1f} %; watching costs "
        f"{figures['difference_percent_mean']:+.2f} % of a core (mean of pairs; median "
        f"{figures['difference_percent_median']:+.2f} %; each "
        + ", ".join(f"{d:+.2f}" for d in figures["difference_percent_each_pair"])
        + f"); target <= {TARGET_PERCENT:g} %; missed runs {figures['missed_runs']:g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

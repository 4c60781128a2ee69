"""The machine the bench ran on, and the figures as Markdown tables (printed and in the docs)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench import plugin
from bench.stats import mean, percentile
from mailwatch import __version__ as mailwatch_version

TARGETS = {"cpu_percent": 25.0, "rss_mb": 150.0, "missed_runs": 0}
PART4_PLACEHOLDER = (
    "Part 4, time to alert, runs on its own (it breaks the servers): "
    "`.venv/bin/python -m bench.time_to_alert`; see docs/time-to-alert.md."
)


def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "mailwatch": mailwatch_version,
        "postfix": _command_output(["postconf", "-d", "-h", "mail_version"]),
        "dovecot": _command_output(["dovecot", "--version"]),
        "perl": _perl_version(),
        "check_email_delivery": plugin.version(),
        "monitoring_plugins_contrib": _command_output(
            ["dpkg-query", "-W", "-f=${Version}", "monitoring-plugins-contrib"]
        ),
    }


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.system()
    found = re.search(r'^PRETTY_NAME="?([^"\n]+)', text, re.M)
    return found.group(1) if found else platform.system()


def _perl_version() -> str:
    out = _command_output(["perl", "-e", "print $^V"])
    return out.lstrip("v")


def _command_output(argv: list[str]) -> str:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    if shutil.which(argv[0], path=path) is None:
        return "not installed"
    try:
        out = subprocess.run(
            [shutil.which(argv[0], path=path) or argv[0], *argv[1:]],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stdout or out.stderr).strip().split("\n")[0]


# ------------------------------------------------------------------------------- summaries


def accuracy_summary(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for tool in dict.fromkeys(s["tool"] for s in samples):
        mine = [s for s in samples if s["tool"] == tool]
        good = [s for s in mine if s["ok"] and s["error_s"] is not None]
        errors = [s["error_s"] for s in good]
        rows.append(
            {
                "tool": tool,
                "probes": len(mine),
                "ok": len(good),
                "reported_latency_median_s": percentile(
                    [s["reported_latency_s"] for s in good], 50
                ),
                "true_latency_median_s": percentile([s["true_latency_s"] for s in good], 50),
                "error_median_s": percentile(errors, 50),
                "error_p95_s": percentile(errors, 95),
                "error_max_s": max(errors) if errors else None,
            }
        )
    return rows


def truth_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    lags = [s["inotify_after_ctime_s"] for s in samples if s["inotify_after_ctime_s"] is not None]
    return {
        "deliveries": len(samples),
        "from_ctime": sum(1 for s in samples if s["truth_from"] == "ctime"),
        "from_inotify_only": sum(1 for s in samples if s["truth_from"] == "inotify"),
        "inotify_after_ctime_median_s": percentile(lags, 50),
        "inotify_after_ctime_max_s": max(lags) if lags else None,
    }


def process_cost_row(what: str, comparable: str, probes: list[dict[str, Any]]) -> dict[str, Any]:
    good = [p for p in probes if p["ok"]]
    cpu = [p["cpu_s"] for p in good]
    rss = [p["maxrss_kib"] for p in good if p.get("maxrss_kib") is not None]
    server = [p["server_cpu_s"]["postfix"] + p["server_cpu_s"]["dovecot"] for p in good]
    return {
        "what": what,
        "comparable_to": comparable,
        "probes": len(probes),
        "ok": len(good),
        "cpu_s_median": percentile(cpu, 50),
        "cpu_s_mean": mean(cpu),
        "peak_rss_mb": (max(rss) * 1024 / 1e6) if rss else None,
        "server_cpu_s_mean": mean(server),
        "wall_s_median": percentile([p["wall_s"] for p in good], 50),
    }


# ---------------------------------------------------------------------------------- tables


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def tables(figures: dict[str, Any]) -> str:
    out: list[str] = []
    m = figures["machine"]
    out.append(
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['ram_gib']} GiB RAM, "
        f"{m['os']}, kernel {m['kernel']}; Postfix {m['postfix']}, Dovecot {m['dovecot']}, "
        f"Python {m['python']}, Perl {m['perl']}; mailwatch {m['mailwatch']}, "
        f"check_email_delivery {m['check_email_delivery']} "
        f"(monitoring-plugins-contrib {m['monitoring_plugins_contrib']})."
    )
    out.append(f"Command: `{figures['command']}` ({figures['started_at']}).")
    if "accuracy" in figures:
        acc = figures["accuracy"]
        out += [
            "",
            f"### 1. Timing accuracy ({acc['rounds']} canaries per tool, interleaved)",
            "",
            "| tool | ok | reported latency (median) | true latency (median) "
            "| abs. error median | abs. error p95 | abs. error max |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in acc["summary"]:
            out.append(
                f"| {row['tool']} | {row['ok']}/{row['probes']} "
                f"| {_f(row['reported_latency_median_s'])} s "
                f"| {_f(row['true_latency_median_s'])} s "
                f"| {_f(row['error_median_s'])} s | {_f(row['error_p95_s'])} s "
                f"| {_f(row['error_max_s'])} s |"
            )
        t = acc["truth"]
        out.append("")
        out.append(
            f"Truth: ctime of the file in `new/` for {t['from_ctime']} of {t['deliveries']} "
            f"deliveries ({t['from_inotify_only']} from the inotify event alone); the inotify "
            f"event was read {_f(_ms(t['inotify_after_ctime_median_s']), 2)} ms (median), "
            f"{_f(_ms(t['inotify_after_ctime_max_s']), 2)} ms (max) after the ctime."
        )
    if "cost" in figures:
        cost = figures["cost"]
        out += [
            "",
            "### 2. Cost per round-trip probe (same run, same servers)",
            "",
            "| what | compares with | probes ok | client CPU s (median / mean) "
            "| client peak RSS | server CPU s (Postfix + Dovecot, mean) | wall s (median) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in cost["rows"]:
            rss = row["peak_rss_mb"]
            out.append(
                f"| {row['what']} | {row['comparable_to']} | {row['ok']}/{row['probes']} "
                f"| {_f(row['cpu_s_median'])} / {_f(row['cpu_s_mean'])} "
                f"| {'–' if rss is None else f'{rss:.1f} MB'} "
                f"| {_f(row['server_cpu_s_mean'])} | {_f(row['wall_s_median'], 2)} |"
            )
    if "scale" in figures:
        out += [
            "",
            "### 3. Scale: N roundtrip checks every 60 s in one daemon",
            "",
            "| checks | minutes | probes run / expected | not ok | missed runs "
            "| daemon CPU (% of one core) | CPU s per probe | daemon peak RSS | p95 latency_s "
            "| Postfix CPU % | Dovecot CPU % | machine busy (% of all cores) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in figures["scale"]:
            out.append(
                f"| {row['checks']} | {row['minutes']:g} | {row['probes']} / "
                f"{row['expected_probes']} | {row['not_ok']} | {row['missed_runs']:g} "
                f"| {row['daemon_cpu_percent']:.1f} % "
                f"| {_f(row['daemon_cpu_s_per_probe'], 4)} "
                f"| {row['daemon_peak_rss_bytes'] / 1e6:.0f} MB "
                f"| {_f(row['latency_p95_s'])} s | {row['postfix_cpu_percent']:.1f} % "
                f"| {row['dovecot_cpu_percent']:.1f} % | {row['machine_busy_percent']:.1f} % |"
            )
        out.append(
            f"| target (1,000 checks) | | | | {TARGETS['missed_runs']} "
            f"| < {TARGETS['cpu_percent']:g} % | | < {TARGETS['rss_mb']:g} MB | | | | |"
        )
    out += ["", "### 4. Time to alert", "", PART4_PLACEHOLDER]
    return "\n".join(out) + "\n"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000

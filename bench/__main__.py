"""``python -m bench``: run the parts, print the tables, write bench/results/latest.json."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ROOT, accuracy, cost, plugin, report, scale
from bench.servers import (
    ServerCpuMeter,
    client_env,
    roundtrip_toml,
    trust_bundle,
    vmail_owner,
)
from bench.truth import MaildirWatch
from harness.mailservers import MailServers
from mailwatch.config import load_config
from mailwatch.config.checks.roundtrip import RoundtripCheck

RESULTS = ROOT / "bench" / "results"
MAILWATCH_USER = "bench-mailwatch"
PLUGIN_USER = "bench-plugin"
QUICK = {"accuracy": 5, "cost": 3, "scale": "10", "scale_minutes": 1.0}
PARTS = {"accuracy", "cost", "scale"}
FULL = {"accuracy": 50, "cost": 10, "scale": "10,100,1000", "scale_minutes": 5.0}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="mailwatch side by side with check_email_delivery on the harness's servers",
    )
    parser.add_argument("--accuracy", type=int, metavar="N", help="canaries per tool (50)")
    parser.add_argument(
        "--cost", type=int, metavar="K", help="probes per mailwatch process/daemon figure (10)"
    )
    parser.add_argument("--scale", metavar="N,N,...", help="roundtrip check counts (10,100,1000)")
    parser.add_argument("--scale-minutes", type=float, metavar="M", help="minutes per size (5)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run of every part")
    parser.add_argument(
        "--parts",
        default="accuracy,cost,scale",
        help="which parts to run (default: accuracy,cost,scale)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if unknown := args.parts - PARTS:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))} (known: accuracy,cost,scale)")
    args.scale = [int(n) for n in str(args.scale).split(",") if n.strip()]
    return args


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench: the mail server harness needs root", file=sys.stderr)
        return 2
    if not plugin.PLUGIN.exists():
        print(f"bench: {plugin.PLUGIN} missing; run bench/run to install it", file=sys.stderr)
        return 2
    figures: dict[str, Any] = {
        "command": "bench/run " + shlex.join(argv) if argv else "bench/run",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
    }
    servers = MailServers(lock_timeout_s=3600)
    log("starting Postfix and Dovecot (waits while another run holds the harness)")
    servers.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mailwatch-bench-") as tmp:
            work = Path(tmp)
            env = client_env(servers, trust_bundle(servers, work / "ca-bundle.pem"))
            # The in-process probes (part 1) read the same variables as the processes.
            os.environ.update(env)
            servers.add_users([MAILWATCH_USER, PLUGIN_USER])
            config_path = work / "mailwatch.toml"
            config_path.write_text(roundtrip_toml(servers, "bench", MAILWATCH_USER))
            check = next(iter(load_config(config_path).enabled_checks()))
            assert isinstance(check, RoundtripCheck)
            if "accuracy" in args.parts or "cost" in args.parts:
                run_rounds(servers, check, env, args, figures)
                save(figures, args.out)
            if "cost" in args.parts:
                run_mailwatch_cost(servers, config_path, work, env, args, figures)
                save(figures, args.out)
            if "scale" in args.parts:
                figures["scale"] = []
                for checks in args.scale:
                    log(f"scale: {checks} roundtrip checks for {args.scale_minutes:g} min")
                    row = scale.run(
                        servers, checks, args.scale_minutes, work / f"scale-{checks}", env, log
                    )
                    figures["scale"].append(row)
                    save(figures, args.out)
    finally:
        servers.stop()
    figures["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = save(figures, args.out)
    print(text)
    log(f"figures in {args.out} and {args.out.with_suffix('.md')}")
    return 0


def save(figures: dict[str, Any], out: Path) -> str:
    """Write the figures so far (a long run cut short keeps its finished parts); the tables."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    text = report.tables(figures)
    out.with_suffix(".md").write_text(text)
    return text


def run_rounds(
    servers: MailServers,
    check: RoundtripCheck,
    env: dict[str, str],
    args: argparse.Namespace,
    figures: dict[str, Any],
) -> None:
    """Parts 1 and 2 for the plugin: interleaved probes, every one checked against the truth."""
    rounds = args.accuracy if "accuracy" in args.parts else args.cost
    watch = MaildirWatch()
    owner = vmail_owner()
    watch.watch(MAILWATCH_USER, servers.maildir(MAILWATCH_USER), owner)
    watch.watch(PLUGIN_USER, servers.maildir(PLUGIN_USER), owner)
    runner = accuracy.Rounds(servers, watch, ServerCpuMeter(servers), check, PLUGIN_USER, env)
    try:
        # One unrecorded probe of each: first-time costs (loading the CA bundle into a new TLS
        # context, Perl modules into the page cache) are not what a probe costs on average.
        runner.mailwatch()
        for variant in plugin.VARIANTS:
            runner.plugin(variant)
        runner.samples.clear()
        for i in range(rounds):
            line = [runner.mailwatch()]
            line += [runner.plugin(variant) for variant in plugin.VARIANTS]
            log(
                f"round {i + 1}/{rounds}: "
                + ", ".join(
                    f"{s.tool.split(' ')[0]}{'' if s.ok else ' FAILED'} "
                    f"err {'?' if s.error_s is None else f'{s.error_s:.3f}'} s"
                    for s in line
                )
            )
            for s in line:
                if not s.ok:
                    log(f"  {s.tool}: {s.note}")
    finally:
        runner.close()
        watch.close()
    samples = [s.to_dict() for s in runner.samples]
    figures["accuracy"] = {
        "rounds": rounds,
        "summary": report.accuracy_summary(samples),
        "truth": report.truth_summary(samples),
        "samples": samples,
    }
    figures["cost"] = {"rows": []}
    for variant in plugin.VARIANTS:
        figures["cost"]["rows"].append(
            report.process_cost_row(
                variant.name + ", process tree per probe",
                "a plugin run by Nagios",
                [s for s in samples if s["tool"] == variant.name],
            )
        )
    figures["cost"]["rows"].append(
        report.process_cost_row(
            "mailwatch probe inside a running process (run_check)",
            "the probe's own work, no start-up",
            [s for s in samples if s["tool"] == accuracy.MAILWATCH],
        )
    )


def run_mailwatch_cost(
    servers: MailServers,
    config_path: Path,
    work: Path,
    env: dict[str, str],
    args: argparse.Namespace,
    figures: dict[str, Any],
) -> None:
    meter = ServerCpuMeter(servers)
    log(f"cost: {args.cost} x mailwatch check (one process per probe)")
    probes = cost.check_processes(config_path, "bench", args.cost, env, meter)
    rows = figures.setdefault("cost", {"rows": []})["rows"]
    rows.append(
        report.process_cost_row(
            "`mailwatch check`, one process per probe",
            "a plugin run by Nagios",
            [p.to_dict() for p in probes],
        )
    )
    log(f"cost: mailwatch run, one roundtrip check every 2 s, {args.cost} probes")
    started = time.monotonic()
    daemon = cost.daemon_per_probe(
        work / "cost-daemon",
        roundtrip_toml(servers, "bench", MAILWATCH_USER, interval_s=2),
        args.cost,
        env,
        meter,
    )
    log(f"cost: daemon done in {time.monotonic() - started:.0f} s")
    figures["cost"]["daemon"] = daemon
    rows.append(
        {
            "what": "mailwatch run (daemon), per probe: CPU over K probes / K",
            "comparable_to": "what a probe costs in production",
            "probes": daemon["probes"],
            "ok": daemon["ok"],
            "cpu_s_median": None,
            "cpu_s_mean": daemon["cpu_s_per_probe"],
            "peak_rss_mb": daemon["peak_rss_bytes"] / 1e6,
            "server_cpu_s_mean": sum(daemon["server_cpu_s_per_probe"].values()),
            "wall_s_median": None,
        }
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

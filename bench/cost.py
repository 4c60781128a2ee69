"""Part 2, mailwatch's side: a ``mailwatch check`` process per probe, and a probe in the daemon.

``mailwatch check`` per probe is what compares with a plugin that Nagios starts per probe
(interpreter start-up and imports included). The daemon's figure is what a probe really costs
when mailwatch runs as intended: the process's CPU over K probes / K, with everything the
daemon does per result (incident engine, store, status file, metrics) included.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.daemon import DaemonProcess
from bench.measure import run_measured
from bench.servers import ServerCpu, ServerCpuMeter


@dataclass(frozen=True)
class ProcessProbe:
    ok: bool
    note: str
    cpu_s: float
    maxrss_kib: int
    wall_s: float
    server_cpu: ServerCpu

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "note": self.note,
            "cpu_s": self.cpu_s,
            "maxrss_kib": self.maxrss_kib,
            "wall_s": self.wall_s,
            "server_cpu_s": {
                "postfix": self.server_cpu.postfix_s,
                "dovecot": self.server_cpu.dovecot_s,
            },
        }


def check_processes(
    config: Path, check: str, count: int, env: dict[str, str], meter: ServerCpuMeter
) -> list[ProcessProbe]:
    """``mailwatch check -c CONFIG CHECK --json``, ``count`` times, one process each."""
    mailwatch = Path(sys.executable).with_name("mailwatch")
    probes: list[ProcessProbe] = []
    for _ in range(count):
        before_server = meter.read()
        run = run_measured([str(mailwatch), "check", "-c", str(config), check, "--json"], env)
        try:
            note = str(json.loads(run.output)[0]["summary"])
        except (ValueError, LookupError, TypeError):
            note = run.output[:200]
        time.sleep(0.5)
        probes.append(
            ProcessProbe(
                ok=run.exit_code == 0,
                note=note,
                cpu_s=run.cpu_s,
                maxrss_kib=run.maxrss_kib,
                wall_s=run.wall_s,
                server_cpu=meter.read() - before_server,
            )
        )
    return probes


def daemon_per_probe(
    work_dir: Path, checks_toml: str, count: int, env: dict[str, str], meter: ServerCpuMeter
) -> dict[str, Any]:
    """One daemon, one roundtrip check every 2 s: its CPU from the first stored result to the
    last of ``count`` more (the first probe builds the TLS context, once per process)."""
    daemon = DaemonProcess(work_dir, checks_toml, env, start_spread_s=0)
    daemon.start()
    try:
        deadline = time.monotonic() + 60 + count * 10
        _wait_results(daemon, 1, deadline)
        cpu_start = daemon.cpu_s()
        server_start = meter.read()
        start = time.monotonic()
        _wait_results(daemon, 1 + count, deadline)
        cpu_s = daemon.cpu_s() - cpu_start
        server = meter.read() - server_start
        wall_s = time.monotonic() - start
        rss = daemon.rss_bytes()
        peak = daemon.peak_rss_bytes()
    finally:
        daemon.stop()
    results = daemon.results()[1 : 1 + count]
    return {
        "probes": count,
        "ok": sum(1 for r in results if r.state == 0),
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "cpu_s_per_probe": cpu_s / count,
        "rss_bytes": rss,
        "peak_rss_bytes": peak,
        "server_cpu_s_per_probe": {
            "postfix": server.postfix_s / count,
            "dovecot": server.dovecot_s / count,
        },
    }


def _wait_results(daemon: DaemonProcess, count: int, deadline: float) -> None:
    while daemon.count_results() < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"daemon stored too few results:\n{daemon.log_tail()}")
        time.sleep(0.05)

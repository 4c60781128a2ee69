"""Three ``mailwatch run`` nodes on one PostgreSQL: load, and failover after SIGKILL.

``python -m bench.cluster`` (as root, like bench/run: it starts the tests' Postfix, Dovecot
and throwaway PostgreSQL on loopback). Two parts, each on a database of its own:

- **load**: one config of ``--checks`` roundtrip checks (one mailbox each, every 60 s, spread
  over the first minute) shared by three nodes, for ``--minutes``. Measured from outside every
  second: each node's CPU, PostgreSQL's (the postmaster and every backend, reaped ones
  included), Postfix's and Dovecot's, the machine's. At the end: missed runs (the nodes'
  metrics), and from the shared ``check_results``: runs per node, failures, p95 ``latency_s``.
- **failover**: three nodes with ``lease_s`` = 3 and a failing ``service`` check every 1 s
  (its ticket open, its notice delivered to a local HTTP receiver); ``--failovers`` times,
  SIGKILL the node holding it and time the first run of another node, then start a fresh node
  in its place. Target: each within ``lease_s`` + ``interval_s``; and across all the kills one
  ticket and one notice.

Figures go to stdout as JSON and to ``--out`` (default bench/results/cluster.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

from bench import ROOT
from bench.daemon import DaemonProcess
from bench.scale import INTERVAL_S, START_SPREAD_S, check_names
from bench.servers import ServerCpuMeter, client_env, roundtrip_toml, trust_bundle
from bench.stats import percentile
from harness.mailservers import MailServers
from harness.postgres import PostgresCluster
from helpers.http_receiver import HttpReceiver
from mailwatch.store.store import Store

RESULTS = ROOT / "bench" / "results"
NODES = ("node-a", "node-b", "node-c")
LOAD_LEASE_S = 30.0
FAILOVER_LEASE_S = 3.0
FAILOVER_INTERVAL_S = 1.0


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class Node(DaemonProcess):
    """One node: ``[node]`` and ``[store]`` before the shared checks."""

    def __init__(
        self,
        work_dir: Path,
        name: str,
        url: str,
        body: str,
        env: dict[str, str],
        lease_s: float,
        start_spread_s: float,
    ) -> None:
        self.name = name
        head = f'\n[node]\nname = "{name}"\nlease_s = {lease_s:g}\n\n[store]\nurl = "{url}"\n'
        super().__init__(work_dir / name, head + body, env, start_spread_s)

    def kill(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        store = await Store.open(url, create=False)
        try:
            async with store.read() as conn:
                return [tuple(row) for row in (await conn.execute(text(sql), params)).all()]
        finally:
            await store.close()

    return asyncio.run(run())


def postgres_cpu_s(cluster: PostgresCluster) -> float:
    """CPU seconds of the whole server: the postmaster, its live children, the reaped ones."""
    pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    master = psutil.Process(pid)
    times = master.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in master.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


def _busy_s(times: Any) -> float:
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def load(
    servers: MailServers,
    cluster: PostgresCluster,
    checks: int,
    minutes: float,
    work: Path,
    env: dict[str, str],
) -> dict[str, Any]:
    users = check_names(checks)
    servers.add_users(users)
    body = "".join(roundtrip_toml(servers, name, name, INTERVAL_S) for name in users)
    url = cluster.url(cluster.create_database())
    nodes = [Node(work, name, url, body, env, LOAD_LEASE_S, START_SPREAD_S) for name in NODES]
    meter = ServerCpuMeter(servers)
    loadavg_before = os.getloadavg()
    try:
        nodes[0].start(ready_timeout_s=180)  # it creates the schema
        for node in nodes[1:]:
            node.start(ready_timeout_s=180)
        began = datetime.now(UTC)
        start = time.monotonic()
        machine_before = psutil.cpu_times()
        cpu_before = [node.cpu_s() for node in nodes]
        pg_before = postgres_cpu_s(cluster)
        servers_before = meter.read()
        window_s = minutes * 60
        while (elapsed := time.monotonic() - start) < window_s:
            if int(elapsed) % 60 == 0 and elapsed >= 1:
                log(f"  load: {elapsed / 60:.0f} of {minutes:g} min")
            time.sleep(min(1.0, window_s - elapsed))
        span = time.monotonic() - start
        cpu_after = [node.cpu_s() for node in nodes]
        pg_after = postgres_cpu_s(cluster)
        servers_after = meter.read()
        machine_after = psutil.cpu_times()
        loadavg_during = os.getloadavg()
        metrics = [node.metrics() for node in nodes]
        peaks = [node.peak_rss_bytes() for node in nodes]
    finally:
        codes = [node.stop() for node in nodes]
    rows = query(
        url,
        "SELECT node, state, stage, metrics, started_at FROM check_results "
        "WHERE started_at >= :began",
        began=began,
    )
    latencies = []
    for _node, _state, _stage, figures, _started in rows:
        figures = figures if isinstance(figures, dict) else json.loads(figures)
        if (latency := figures.get("latency_s")) is not None:
            latencies.append(float(latency))
    busy = _busy_s(machine_after) - _busy_s(machine_before)
    total = sum(machine_after) - sum(machine_before)

    def pct(seconds: float) -> float:
        return round(100 * seconds / span, 1)

    return {
        "checks": checks,
        "nodes": len(nodes),
        "window_s": round(span, 1),
        "expected_runs": round(checks * span / INTERVAL_S),
        "runs": len(rows),
        "runs_by_node": dict(Counter(str(r[0]) for r in rows)),
        "not_ok": sum(1 for r in rows if r[1] != 0),
        "failure_stages": dict(Counter(str(r[2]) for r in rows if r[1] != 0)),
        "missed_runs": sum(m.get("mailwatch_missed_runs_total", 0.0) for m in metrics),
        "node_cpu_percent": {
            node.name: pct(after - before)
            for node, before, after in zip(nodes, cpu_before, cpu_after, strict=True)
        },
        "node_peak_rss_mb": {
            node.name: round(peak / 1e6) for node, peak in zip(nodes, peaks, strict=True)
        },
        "postgres_cpu_percent": pct(pg_after - pg_before),
        "postfix_cpu_percent": pct(servers_after.postfix_s - servers_before.postfix_s),
        "dovecot_cpu_percent": pct(servers_after.dovecot_s - servers_before.dovecot_s),
        "machine_busy_percent": round(100 * busy / total, 1) if total > 0 else 0.0,
        "machine_cores": psutil.cpu_count(),
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_end": [round(x, 2) for x in loadavg_during],
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "latency_max_s": max(latencies) if latencies else None,
        "exit_codes": codes,
    }


def failover(
    cluster: PostgresCluster, kills: int, work: Path, env: dict[str, str]
) -> dict[str, Any]:
    url = cluster.url(cluster.create_database())
    with HttpReceiver() as receiver:
        body = f"""
[[checks.service]]
name = "down"
protocol = "smtp"
host = "127.0.0.1"
port = 9
interval_s = {FAILOVER_INTERVAL_S:g}
retry_interval_s = {FAILOVER_INTERVAL_S:g}
timeout_s = 2

[incidents]
open_after = 2

[routes.ops]
urls = ["{receiver.url("/ops")}"]
"""
        made: list[Node] = []

        def node(name: str) -> Node:
            made.append(Node(work, name, url, body, env, FAILOVER_LEASE_S, 0.0))
            made[-1].start()
            return made[-1]

        live = {name: node(name) for name in NODES}
        times: list[float] = []
        try:
            receiver.wait_for(1, 60)
            _wait("the notice delivered", lambda: _outbox(url) == ["delivered"], 60)
            for round_ in range(1, kills + 1):
                owner = _wait("the check's owner", lambda: _owner(url, live), 30)
                live.pop(owner.name)
                owner.kill()
                killed_at = datetime.now(UTC)

                def taken(owner: Node = owner, killed_at: datetime = killed_at) -> Any:
                    rows = query(
                        url,
                        "SELECT node, started_at FROM check_results WHERE check_name = 'down' "
                        "AND started_at > :at AND node != :owner ORDER BY id LIMIT 1",
                        at=killed_at,
                        owner=owner.name,
                    )
                    return rows[0] if rows else None

                new_owner, started = _wait("another node running it", taken, 60)
                started = started if started.tzinfo else started.replace(tzinfo=UTC)
                seconds = (started - killed_at).total_seconds()
                times.append(seconds)
                log(
                    f"  failover {round_}: {owner.name} killed, "
                    f"{new_owner} ran the check {seconds:.2f} s later"
                )
                fresh = f"node-{round_}"
                live[fresh] = node(fresh)
            tickets = query(url, "SELECT count(*) FROM tickets WHERE check_name = 'down'")[0][0]
            notices = _outbox(url)
        finally:
            for each in made:
                each.stop()
        return {
            "kills": kills,
            "lease_s": FAILOVER_LEASE_S,
            "interval_s": FAILOVER_INTERVAL_S,
            "target_s": FAILOVER_LEASE_S + FAILOVER_INTERVAL_S,
            "failover_s": [round(t, 2) for t in times],
            "failover_median_s": round(statistics.median(times), 2) if times else None,
            "failover_max_s": round(max(times), 2) if times else None,
            "tickets": int(tickets),
            "notices_stored": len(notices),
            "notices_received": len(receiver.requests),
        }


def _outbox(url: str) -> list[str]:
    return [str(s) for (s,) in query(url, "SELECT status FROM outbox ORDER BY id")]


def _owner(url: str, live: dict[str, Node]) -> Node | None:
    rows = query(url, "SELECT owner FROM leases WHERE check_name = 'down'")
    return live.get(str(rows[0][0])) if rows else None


def _wait(what: str, probe: Any, timeout_s: float) -> Any:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if (found := probe()) not in (None, False):
            return found
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--checks", type=int, default=1000, help="roundtrip checks (1000)")
    parser.add_argument("--minutes", type=float, default=3.0, help="load window (3)")
    parser.add_argument("--failovers", type=int, default=5, help="SIGKILLs (5)")
    parser.add_argument("--parts", default="load,failover")
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if os.geteuid() != 0:
        print("bench.cluster: the harness needs root", file=sys.stderr)
        return 2
    figures: dict[str, Any] = {
        "command": "python -m bench.cluster " + " ".join(argv),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "other_processes_cpu_note": "the machine is shared: see loadavg and machine_busy",
    }
    servers = MailServers(lock_timeout_s=3600)
    with (
        PostgresCluster(lock_timeout_s=3600) as cluster,
        tempfile.TemporaryDirectory(prefix="mailwatch-cluster-bench-") as tmp,
    ):
        work = Path(tmp)
        log("starting Postfix and Dovecot")
        servers.start()
        try:
            env = client_env(servers, trust_bundle(servers, work / "ca-bundle.pem"))
            env["PYTHONPATH"] = str(ROOT / "src")
            if "load" in parts:
                log(f"load: 3 nodes, {args.checks} roundtrip checks, {args.minutes:g} min")
                figures["load"] = load(
                    servers, cluster, args.checks, args.minutes, work / "load", env
                )
                log(json.dumps(figures["load"]))
            if "failover" in parts:
                log(f"failover: {args.failovers} SIGKILLs")
                figures["failover"] = failover(cluster, args.failovers, work / "failover", env)
        finally:
            servers.stop()
    figures["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text_out = json.dumps(figures, indent=2)
    args.out.write_text(text_out + "\n")
    print(text_out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``python -m bench.probe_loop``: one round-trip probe's own CPU, on uvloop and on asyncio.

Runs N probes one after another in this process (``run_check``, the probe the daemon runs,
with the check's memory kept between runs as the daemon keeps it) and prints the process's
user and system CPU per probe for each event loop, with the probes' median ``send_s`` and
``latency_s``. No daemon, no store, no scheduler: set against the daemon's CPU per probe at
scale (``bench/run --parts scale``), the difference is what the daemon does around a probe.
Same servers and TLS trust as ``bench/run``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from bench.servers import client_env, roundtrip_toml, trust_bundle
from harness.mailservers import MailServers
from mailwatch.config import load_config
from mailwatch.domain.results import State
from mailwatch.runner import run_check

USER = "bench-loop"
WARM_UP = 10
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "uvloop": uvloop.new_event_loop,
    "asyncio": asyncio.new_event_loop,
}


def measure(config: Path, loop_name: str, probes: int) -> dict[str, float]:
    check = next(iter(load_config(config).enabled_checks()))
    memory: dict[str, Any] = {}
    send_s: list[float] = []
    latency_s: list[float] = []

    async def run(count: int) -> None:
        for _ in range(count):
            result = await run_check(check, memory)
            if result.state is not State.OK:
                raise SystemExit(f"probe not ok on {loop_name}: {result.summary}")
            send_s.append(result.metrics["send_s"])
            latency_s.append(result.metrics["latency_s"])

    loop = LOOPS[loop_name]()
    try:
        loop.run_until_complete(run(WARM_UP))  # TLS context, imports, learned deadline
        send_s.clear()
        latency_s.clear()
        before, started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        loop.run_until_complete(run(probes))
        after, wall_s = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - started
    finally:
        loop.close()
    return {
        "user_ms": (after.ru_utime - before.ru_utime) / probes * 1000,
        "sys_ms": (after.ru_stime - before.ru_stime) / probes * 1000,
        "wall_ms": wall_s / probes * 1000,
        "send_ms": statistics.median(send_s) * 1000,
        "latency_ms": statistics.median(latency_s) * 1000,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe_loop", description=__doc__)
    parser.add_argument("--probes", type=int, default=200, help="probes per loop (200)")
    args = parser.parse_args(argv)
    servers = MailServers(lock_timeout_s=3600)
    servers.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mailwatch-bench-") as tmp:
            work = Path(tmp)
            os.environ.update(client_env(servers, trust_bundle(servers, work / "ca-bundle.pem")))
            servers.add_users([USER])
            config = work / "mailwatch.toml"
            config.write_text(roundtrip_toml(servers, "loop", USER))
            print(
                "| event loop | probes | user CPU ms | system CPU ms | total CPU ms | wall ms "
                "| send_s median ms | latency_s median ms |"
            )
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for name in LOOPS:
                f = measure(config, name, args.probes)
                total = f["user_ms"] + f["sys_ms"]
                print(
                    f"| {name} | {args.probes} | {f['user_ms']:.1f} | {f['sys_ms']:.1f} "
                    f"| {total:.1f} | {f['wall_ms']:.0f} | {f['send_ms']:.0f} "
                    f"| {f['latency_ms']:.0f} |",
                    flush=True,
                )
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Running a client as a process tree and reading its CPU time and peak memory.

CPU comes from ``wait4`` (user + system of the process and every descendant it waited for,
microsecond resolution). Peak memory does not: Linux carries the RSS high-water mark of the
pre-``exec`` image into ``ru_maxrss``, and a child forked from this (large) Python process
would report our size, not its own. So the command runs under GNU time, itself exec'd and
small, whose ``%M`` is the largest RSS of any process in the measured tree.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")


@dataclass(frozen=True)
class ProcessRun:
    started_at: float
    """Unix time just before the process was started."""
    exit_code: int
    output: str
    wall_s: float
    cpu_s: float
    """User + system CPU of the tree (GNU time's own share, about 1 ms, included)."""
    maxrss_kib: int
    """Peak RSS of the largest single process in the tree."""


def run_measured(argv: list[str], env: dict[str, str]) -> ProcessRun:
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-") as report:
        started_at = time.time()
        start = time.monotonic()
        proc = subprocess.Popen(
            [str(GNU_TIME), "-q", "-o", report.name, "-f", "%M", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        assert proc.stdout is not None
        with proc.stdout:
            output = proc.stdout.read().decode(errors="replace").strip()
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        lines = report.read().split()
    return ProcessRun(
        started_at=started_at,
        exit_code=proc.returncode,
        output=output,
        wall_s=wall_s,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_kib=int(lines[-1]) if lines and lines[-1].isdigit() else 0,
    )

"""SIGKILL in the middle of writing leaves the database consistent: a real process is killed
at random points, several times, and after each kill the stored data is checked; on SQLite
and on PostgreSQL."""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.builders import assert_consistent
from mailwatch.store.store import Store

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 6
READ_TIMEOUT_S = 60.0


def run_until(url: str, commits: int) -> int:
    """Start the writer, let it commit ``commits`` times, SIGKILL it; the commits seen."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    seen = 0
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + READ_TIMEOUT_S
            while seen < commits:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "the writer stopped committing"
                if not selector.select(remaining):
                    continue
                line = proc.stdout.readline()
                if not line:
                    stderr = proc.stderr.read().decode() if proc.stderr else ""
                    raise AssertionError(f"the writer exited early: {stderr}")
                seen += 1
        # The writer is already in its next transaction (or between two): kill it there.
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=READ_TIMEOUT_S)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL
    return seen


async def test_sigkill_leaves_the_database_consistent(store_url: str) -> None:
    rnd = random.Random(20261122)
    total = 0
    for _ in range(KILLS):
        total += run_until(store_url, rnd.randrange(5, 60))
        store = await Store.open(store_url)
        try:
            counts = await assert_consistent(store)
        finally:
            await store.close()
    assert total > KILLS * 5
    assert counts["states"] == 3

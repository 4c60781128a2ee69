"""The daemon with a resources check on a mount that never answers (a real, hung FUSE mount,
see helpers/hung_mount.py): run after run reports it, the status file keeps being written,
and SIGTERM still stops the daemon at once. Before, every run left a thread of the loop's
shared pool stuck in statvfs: after a handful of runs the status writes queued behind them,
and shutdown waited for them for ever."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, wait_for
from helpers.hung_mount import hung_mount_or_skip
from helpers.resources import LEVELS_OFF_TOML

SHARED_POOL_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""asyncio's default executor's size (ThreadPoolExecutor's default)."""


@pytest.fixture
def hung(tmp_path: Path) -> Iterator[Path]:
    with hung_mount_or_skip(tmp_path / "nfs") as mount:
        yield mount.path


def config(state_dir: Path, mount: Path) -> str:
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0

[[checks.resources]]
name = "host"
interval_s = 1
timeout_s = 2
cpu_sample_s = 0.1
mounts = ["/", "{mount}"]
# About the mount: a busy machine must not make the check critical/cpu (or load, memory, disk).
{LEVELS_OFF_TOML}
"""


def _stuck_for_s(daemon: DaemonProcess) -> float | None:
    check = daemon.check_status("host")
    found = re.search(r"stuck for (\d+) s", check["summary"]) if check else None
    return float(found.group(1)) if found else None


def test_a_hung_mount_neither_stalls_the_status_file_nor_shutdown(
    tmp_path: Path, hung: Path
) -> None:
    daemon = DaemonProcess(tmp_path, config(tmp_path / "state", hung), {}).start()
    try:
        # Runs every second, each reporting the mount: more runs than the shared pool
        # (asyncio's default executor) has threads, which would all hang if each run took one.
        runs = SHARED_POOL_THREADS + 2
        wait_for(
            f"{runs} s of runs reporting the stuck mount",
            lambda: (s := _stuck_for_s(daemon)) is not None and s >= runs,
            timeout_s=runs + 25,
        )
        check = daemon.check_status("host")
        assert check is not None
        assert (check["state"], check["stage"]) == ("unknown", "mount_unreadable")
        assert str(hung) in check["summary"]
        document = daemon.status()
        assert document is not None
        age_s = (
            datetime.now(UTC) - datetime.fromisoformat(document["generated_at"])
        ).total_seconds()
        assert age_s < 5, "the status file went stale"
        daemon.send(signal.SIGTERM)
        assert daemon.proc is not None
        assert daemon.proc.wait(15) == 0, daemon.stderr
        # No task or future left behind by the cut-off samples.
        assert "never retrieved" not in daemon.stderr, daemon.stderr
        assert "Task was destroyed" not in daemon.stderr, daemon.stderr
    finally:
        daemon.stop()

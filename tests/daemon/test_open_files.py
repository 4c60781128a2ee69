"""``mailwatch run`` raises its soft limit on open files, so a burst of connections to its web
port cannot leave the probes without sockets. The daemon is started with a soft limit of 256
(``prlimit``, util-linux) under this machine's hard limit."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from helpers.daemon import DaemonProcess, wait_for
from mailwatch.daemon.open_files import TARGET


class LimitedDaemon(DaemonProcess):
    def start(self, *extra_args: str) -> DaemonProcess:
        run = [sys.executable, "-m", "mailwatch", "run", "-c", str(self.config), *extra_args]
        with self.stderr_path.open("ab") as stderr:
            self.proc = subprocess.Popen(
                ["prlimit", "--nofile=256:", "--", *run],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        return self


def open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open files line")


def test_the_daemon_raises_its_soft_limit_on_open_files(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard > 256, "this machine's hard limit leaves nothing to raise"
    config = f"""
[daemon]
state_dir = "{tmp_path / "state"}"
status_interval_s = 1
"""
    daemon = LimitedDaemon(tmp_path, config, {})
    daemon.start()
    try:
        wait_for("READY=1", lambda: "READY=1" in daemon.read_notify())
        assert daemon.proc is not None
        assert open_files_limits(daemon.proc.pid) == (min(hard, TARGET), hard)
    finally:
        daemon.stop()
    assert "Traceback" not in daemon.stderr

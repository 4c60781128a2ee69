"""``mailwatch run`` and the files it keeps in ``state_dir``: a directory where ``status.json``
belongs costs the status file, one logged line per failed write, and nothing else (checks run,
status.txt and the watchdog go on); what is at the database path but cannot be a database stops
the start with one line, and the file is left as it was."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, wait_for
from helpers.resources import LEVELS_OFF_TOML


def config(state_dir: Path) -> str:
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0

[[checks.resources]]
name = "host"
interval_s = 1
cpu_sample_s = 0.1
{LEVELS_OFF_TOML}
"""


def status_errors(daemon: DaemonProcess) -> list[str]:
    return [line for line in daemon.stderr.splitlines() if "status files not written" in line]


def test_a_directory_at_status_json_is_logged_and_monitoring_goes_on(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    (state_dir / "status.json").mkdir(parents=True)
    daemon = DaemonProcess(tmp_path, config(state_dir), {}).start()
    try:
        # Runs go on and reach the other status file, and the watchdog keeps being fed.
        status_txt = state_dir / "status.txt"
        wait_for(
            "a result of the check in status.txt",
            lambda: (
                status_txt.exists()
                and "host" in status_txt.read_text()
                and "OK" in status_txt.read_text()
            ),
        )
        wait_for("three failed status writes", lambda: len(status_errors(daemon)) >= 3)
        wait_for("watchdog pings", lambda: daemon.read_notify().count("WATCHDOG=1") >= 2)
        assert "READY=1" in daemon.read_notify()
        assert daemon.proc is not None and daemon.proc.poll() is None, daemon.stderr
        daemon.send(signal.SIGTERM)
        assert daemon.proc.wait(15) == 0, daemon.stderr
        assert "Traceback" not in daemon.stderr, daemon.stderr
        assert "IsADirectoryError" not in daemon.stderr, daemon.stderr
        for line in status_errors(daemon):
            assert line.endswith(
                f"status files not written: cannot write {state_dir / 'status.json'}: "
                "it is a directory, not a file (move it away)"
            ), line
        assert (state_dir / "status.json").is_dir()
        assert list((state_dir / "status.json").iterdir()) == []
    finally:
        daemon.stop()


@pytest.mark.parametrize("what", ["directory", "empty file"])
def test_the_daemon_refuses_what_cannot_be_its_database(tmp_path: Path, what: str) -> None:
    state_dir = tmp_path / "state"
    path = state_dir / "mailwatch.db"
    if what == "directory":
        path.mkdir(parents=True)
        expected = f"mailwatch: {path} is a directory, not a database file"
    else:
        state_dir.mkdir()
        path.touch()
        expected = f"mailwatch: {path} is empty (0 bytes): it is not a mailwatch database"
    daemon = DaemonProcess(tmp_path, config(state_dir), {}).start()
    try:
        assert daemon.proc is not None
        assert daemon.proc.wait(30) == 74  # EX_IOERR, like every command
        lines = daemon.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), daemon.stderr
        if what == "directory":
            assert list(path.iterdir()) == []
        else:
            assert path.read_bytes() == b""
        assert not (state_dir / "status.json").exists()
    finally:
        daemon.stop()


def test_the_daemon_creates_the_database_where_none_exists(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    daemon = DaemonProcess(tmp_path, config(state_dir), {}).start()
    try:
        wait_for("status.json", daemon.status)
        proc = daemon.mailwatch("tickets")
        assert (proc.returncode, proc.stdout) == (0, "no open tickets\n"), proc.stderr
    finally:
        daemon.stop()

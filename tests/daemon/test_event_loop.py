"""``[daemon] event_loop``: the daemon runs its checks on uvloop by default, on asyncio's own
loop when asked, and says which in its start-up line."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, wait_for


def config(state_dir: Path, event_loop: str | None) -> str:
    chosen = f'event_loop = "{event_loop}"\n' if event_loop else ""
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0
{chosen}
[[checks.resources]]
name = "local"
interval_s = 1
"""


@pytest.mark.parametrize(("chosen", "expected"), [(None, "uvloop"), ("asyncio", "asyncio")])
def test_checks_run_on_the_chosen_event_loop(
    tmp_path: Path, chosen: str | None, expected: str
) -> None:
    daemon = DaemonProcess(tmp_path, config(tmp_path / "state", chosen), {}).start()
    try:
        local = wait_for(
            "the resources check's first result",
            lambda: (c := daemon.check_status("local")) and c["last_run_at"] and c,
        )
        assert local["state"] in {"ok", "warning", "critical"}, local
        assert local["summary"], local
        # The start-up line is logged after the first status write, which a quick first result
        # can already be in: wait for the line, then read what it says.
        wait_for("the start-up line", lambda: ", event loop " in daemon.stderr)
        assert f"event loop {expected}" in daemon.stderr, daemon.stderr
        messages = wait_for("READY=1", lambda: (m := daemon.read_notify()) and "READY=1" in m and m)
        assert "READY=1" in messages
    finally:
        daemon.stop()


def test_an_unknown_event_loop_is_a_config_error(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path, config(tmp_path / "state", "trio"), {})
    proc = daemon.mailwatch("validate")
    daemon.stop()
    assert proc.returncode == 78, proc.stdout + proc.stderr
    assert "daemon.event_loop" in proc.stderr, proc.stderr

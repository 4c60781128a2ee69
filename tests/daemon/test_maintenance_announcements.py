"""A real ``mailwatch run`` announces a maintenance window to a real local HTTP receiver:
ahead of it, when it starts and when it ends, once each, and ``maintenance list`` says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers.daemon import DaemonProcess, wait_for
from helpers.http_receiver import HttpReceiver


def test_the_daemon_announces_ahead_at_start_and_at_end(tmp_path: Path) -> None:
    # The window starts a few seconds after the daemon does: its "ahead" notice (an hour's
    # lead) is due at once, the others at the announcer's passes (every 5 s) after the start
    # and the end; the window lasts two passes, so one falls inside it.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    end = start + timedelta(seconds=10)
    with HttpReceiver() as receiver:
        config = f"""
[daemon]
state_dir = "{tmp_path / "state"}"
status_interval_s = 1

[routes.team]
urls = ["{receiver.url("/team")}"]

[[maintenance]]
name = "upgrade"
start = "{start.isoformat()}"
end = "{end.isoformat()}"
announce_before = "1h"
"""
        daemon = DaemonProcess(tmp_path, config, {})
        daemon.start()
        try:
            wait_for("three announcements", lambda: len(receiver.requests) >= 3, 40)
            listed = daemon.mailwatch("maintenance", "list", "--json")
        finally:
            daemon.stop()
    titles = [request.json()["title"] for request in receiver.requests]
    assert titles == [
        f"mailwatch: maintenance 'upgrade' planned {start:%Y-%m-%d %H:%M} UTC",
        "mailwatch: maintenance 'upgrade' started",
        "mailwatch: maintenance 'upgrade' ended",
    ], daemon.stderr
    assert "maintenance: ahead notice of maintenance window 'upgrade' to route team delivered" in (
        daemon.stderr
    )
    # The occurrence is over: nothing is planned any more.
    assert listed.returncode == 0, listed.stderr
    assert [row["window"] for row in json.loads(listed.stdout)] == []

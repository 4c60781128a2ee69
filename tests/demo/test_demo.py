"""``mailwatch demo`` end to end: the real command as a subprocess (its servers, the real
daemon it starts), and the failure path in-process with a wait too short to be met."""

from __future__ import annotations

import asyncio
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailwatch.demo.scenario import EXIT_FAILED, Pace, run_demo

DEMO_BOUND_S = 150
"""The demo promises under 3 minutes; it takes about 40 s."""

TICKET = r"MW-\d{6}"


def demo_process(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "MAILWATCH_CONFIG")}
    return subprocess.Popen(
        [sys.executable, "-m", "mailwatch", "demo", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def assert_the_story(output: str) -> str:
    """Every step of the story, in order; returns the ticket number."""
    steps = [
        r"round trip: OK: canary delivered in \d+\.\d+ s",
        r"Mail flows\. The daemon's status file",
        r"overall OK",
        r"Breaking delivery on purpose",
        r"round trip: CRITICAL \(not_delivered\): canary to canary@demo\.mailwatch\.test "
        r"not delivered within 4 s",
        rf"ticket ({TICKET}) opened: severity 1, response due by \d\d:\d\d UTC",
        rf"{TICKET}  SEV1  triggered",
        r"\(alerts: not available in this version yet\)",
        r"released the queue: \d+ held canaries delivered, late",
        r"round trip: (?:WARNING \(late\)|OK): canary delivered",
        rf"ticket {TICKET} resolved by mailwatch: mail flows again",
        r"OPEN TICKETS: none",
        rf"{TICKET}  severity 1  resolved",
        r"ticket_opened .* \[not_delivered\]",
        r'ticket_resolved .* "recovered: 2 consecutive ok results"',
        r"Demo finished in \d+ s\.",
    ]
    position = 0
    number = ""
    for step in steps:
        found = re.compile(step).search(output, position)
        assert found, f"missing after offset {position}: {step!r}\n{output}"
        if found.groups():
            number = found.group(1)
        position = found.end()
    assert re.search(rf"ticket {number} resolved", output)
    return number


@pytest.mark.timeout(DEMO_BOUND_S + 30)
def test_the_demo_tells_the_whole_story_and_exits_0() -> None:
    proc = demo_process()
    try:
        output, _ = proc.communicate(timeout=DEMO_BOUND_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert_the_story(output)
    workdir = re.search(r"Its files: (\S+) ", output)
    assert workdir and not Path(workdir.group(1)).exists(), "the demo cleans up after itself"


@pytest.mark.timeout(DEMO_BOUND_S + 30)
def test_keep_leaves_everything_running_until_ctrl_c() -> None:
    proc = demo_process("--keep")
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    output = ""
    deadline = time.monotonic() + DEMO_BOUND_S
    try:
        # The last line of the note naming the config and the status file.
        while "mailwatch tickets --all -c" not in output:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"the demo ended early:\n{output}"
            output += line
        assert_the_story(output)
        config = re.search(r"config: +(\S+)", output)
        status = re.search(r"status file: +(\S+)", output)
        assert config and status, output
        assert proc.poll() is None, "still running after the story"
        pid = re.search(r"\(pid (\d+)\)", output)
        assert pid
        os.kill(int(pid.group(1)), 0)  # the daemon is alive
        check = subprocess.run(
            [sys.executable, "-m", "mailwatch", "status", "-c", config.group(1)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        output += line
    assert "Stopping the daemon and the mail servers." in output
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid.group(1)), 0)
    assert not Path(config.group(1)).parent.exists()


def test_a_wait_that_times_out_says_what_was_expected_and_shows_the_daemon_log() -> None:
    out = io.StringIO()
    # No daemon answers within a millisecond: the first wait must give up.
    code = asyncio.run(run_demo(out, pace=Pace(healthy_timeout_s=0.001)))
    text = out.getvalue()
    assert code == EXIT_FAILED, text
    assert (
        "DEMO FAILED: timed out after 0.001 s waiting for the first round trip to succeed "
        "(check state ok in status.json)." in text
    )
    assert "status.txt at that moment:" in text
    assert "The daemon's log (daemon.log) ends with:" in text
    workdir = re.search(r"Its files: (\S+) ", text)
    assert workdir and not Path(workdir.group(1)).exists()

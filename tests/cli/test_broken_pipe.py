"""A reader that leaves early (`mailwatch schema | head`) ends the command quietly.

The schema is larger than a pipe's buffer (64 KiB on Linux), so the command is still writing
when the reader closes its end: the write fails with EPIPE every time, not by chance.
"""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_reader_leaving_early_ends_the_command_without_a_traceback() -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailwatch", "schema"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does once it has its line
    with proc.stderr:
        stderr = proc.stderr.read()
    status = proc.wait(timeout=60)
    assert first.startswith(b"{")
    assert stderr == b"", stderr.decode(errors="replace")
    assert status == 128 + 13  # as a command killed by SIGPIPE reports it, like cat or ls

"""What the harness's server runners share: deadline polling, the base-directory flock, and
finding and stopping the processes a run (or a crashed earlier one) left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

POLL_S = 0.05


def deadline_loop(timeout_s: float) -> Iterator[None]:
    """Yield until ``timeout_s`` has passed, pausing briefly between rounds."""
    end = time.monotonic() + timeout_s
    while True:
        yield
        if time.monotonic() >= end:
            return
        time.sleep(POLL_S)


def pid_alive(pid: int) -> bool:
    """True for a live process; zombies count as dead (init may not reap them)."""
    try:
        # The state follows the parenthesised command name, which may hold spaces.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log, headed by its path, for an error message."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"({path} not readable)"
    return f"--- last lines of {path} ---\n" + "\n".join(text)


def lock_base_dir(base_dir: Path, timeout_s: float) -> int | None:
    """Take the flock on ``<base_dir>/.lock``, waiting up to ``timeout_s``.

    One runner per base directory at a time: without it a second pytest run would "clean up
    leftovers" by killing the first run's servers. Returns the descriptor holding the lock
    (close it to release), or None when another run still holds it at the deadline.
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(base_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    for _ in deadline_loop(timeout_s):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        return fd
    os.close(fd)
    return None


def terminate(pids: Iterable[int], timeout_s: float) -> set[int]:
    """SIGTERM, up to ``timeout_s`` for them to exit, then SIGKILL; the pids still alive."""
    alive = set(pids)
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 2.0)):
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        for _ in deadline_loop(wait_s):
            alive = {pid for pid in alive if pid_alive(pid)}
            if not alive:
                return alive
    return alive


def installed_binary(name: str, package: str, error: type[Exception]) -> str:
    """The path of the program ``name``; as root, installed from Debian's ``package`` when
    missing (apt-get install, then update and install again). ``error`` when it cannot be had."""
    path = "/usr/local/sbin:/usr/sbin:/sbin:" + os.environ.get("PATH", "")
    found = shutil.which(name, path=path)
    if found:
        return found
    if os.geteuid() != 0:
        raise error(f"{name} is not installed (apt-get install {package})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    for attempt in (install, ["apt-get", "update", "-q"], install):
        subprocess.run(attempt, env=env, capture_output=True, timeout=600, check=False)
        found = shutil.which(name, path=path)
        if found:
            return found
    raise error(f"could not install {package} with apt-get")

"""``mailwatch run`` as a real subprocess for tests, with a NOTIFY_SOCKET the test reads."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 20.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DaemonProcess:
    """One daemon: its config file, state dir, stderr log and systemd notify socket."""

    def __init__(self, tmp_path: Path, config: str, env: Mapping[str, str]) -> None:
        self.tmp_path = tmp_path
        self.state_dir = tmp_path / "state"
        self.config = tmp_path / "mailwatch.toml"
        self.config.write_text(config)
        self.notify_path = tmp_path / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify.settimeout(0.2)
        self.messages: list[str] = []
        self.stderr_path = tmp_path / "stderr.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NOTIFY_SOCKET": str(self.notify_path),
            "WATCHDOG_USEC": "2000000",
            # The test run's own import path, so the daemon runs the code under test (the
            # worktree's src/), not whatever mailwatch the interpreter would find.
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra_args: str) -> DaemonProcess:
        """Start ``mailwatch run``; ``extra_args`` such as ``-v`` follow the config."""
        with self.stderr_path.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailwatch", "run", "-c", str(self.config), *extra_args],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.notify.close()

    def send(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def read_notify(self) -> list[str]:
        try:
            while True:
                self.messages.extend(self.notify.recv(4096).decode().splitlines())
        except TimeoutError:
            pass
        return self.messages

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def status(self) -> dict[str, Any] | None:
        try:
            document: dict[str, Any] = json.loads((self.state_dir / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return document

    def check_status(self, name: str) -> dict[str, Any] | None:
        document = self.status()
        if document is None:
            return None
        return next((c for c in document["checks"] if c["name"] == name), None)

    def mailwatch(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailwatch", *args, "-c", str(self.config)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket, open or resolved, as ``mailwatch tickets --all --json`` prints it."""
        proc = self.mailwatch("tickets", "--all", "--json")
        if proc.returncode != 0:
            return []
        found: list[dict[str, Any]] = json.loads(proc.stdout)
        return found

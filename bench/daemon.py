"""``mailwatch run`` as a subprocess, measured from outside: CPU, memory, results, metrics."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.servers import daemon_toml
from mailwatch.config.store import DATABASE_FILE


@dataclass(frozen=True)
class StoredResult:
    check: str
    state: int
    stage: str | None
    latency_s: float | None
    started_at: datetime
    finished_at: datetime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DaemonProcess:
    """One ``mailwatch run`` with its own state directory, config and metrics port."""

    def __init__(
        self, work_dir: Path, checks_toml: str, env: dict[str, str], start_spread_s: float
    ) -> None:
        self.work_dir = work_dir
        self.state_dir = work_dir / "state"
        self.config = work_dir / "mailwatch.toml"
        self.stderr_path = work_dir / "daemon.log"
        self.metrics_port = free_port()
        work_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            daemon_toml(self.state_dir, self.metrics_port, start_spread_s) + checks_toml
        )
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None

    def start(self, ready_timeout_s: float = 60.0) -> None:
        with self.stderr_path.open("wb") as stderr:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mailwatch", "run", "-c", str(self.config)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self._ps = psutil.Process(self._proc.pid)
        end = time.monotonic() + ready_timeout_s
        # The status file is first written once the checks are scheduled, just before READY=1.
        while not (self.state_dir / "status.json").exists():
            if self._proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"mailwatch run did not start:\n{self.log_tail()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def cpu_s(self) -> float:
        assert self._ps is not None
        times = self._ps.cpu_times()
        return times.user + times.system

    def rss_bytes(self) -> int:
        assert self._ps is not None
        return int(self._ps.memory_info().rss)

    def peak_rss_bytes(self) -> int:
        """The kernel's high-water mark of the process's RSS (``VmHWM``), exact."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def metrics(self) -> dict[str, float]:
        """The metrics endpoint's samples, summed over labels: ``{name: value}``."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            totals[name] = totals.get(name, 0.0) + float(value)
        return totals

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, as systemd stops it; running probes get their grace period."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        return self._proc.returncode

    def results(self, since: datetime | None = None) -> list[StoredResult]:
        """Results the daemon stored (``check_results``), finished at or after ``since``."""
        db = self.state_dir / DATABASE_FILE
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            rows = conn.execute(
                "SELECT check_name, state, stage, metrics, started_at, finished_at "
                "FROM check_results ORDER BY id"
            ).fetchall()
        found: list[StoredResult] = []
        for name, state, stage, metrics, started, finished in rows:
            finished_at = _utc(finished)
            if since is not None and finished_at < since:
                continue
            latency = json.loads(metrics).get("latency_s")
            found.append(StoredResult(name, state, stage, latency, _utc(started), finished_at))
        return found

    def count_results(self) -> int:
        db = self.state_dir / DATABASE_FILE
        if not db.exists():
            return 0
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                (count,) = conn.execute("SELECT count(*) FROM check_results").fetchone()
        except sqlite3.OperationalError:
            return 0  # not created yet, or locked for a moment
        return int(count)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])


def _utc(text: str) -> datetime:
    # SQLite keeps the instants as naive UTC text.
    return datetime.fromisoformat(text).replace(tzinfo=UTC)

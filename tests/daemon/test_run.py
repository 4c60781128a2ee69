"""``mailwatch run`` as a real subprocess against the harness's Postfix and Dovecot."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import jsonschema
import pytest

from harness.mailservers import MailServers
from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.roundtrip_config import roundtrip_toml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "status-file.schema.json").read_text())


def config_text(servers: MailServers, state_dir: Path, metrics_port: int, **extra: str) -> str:
    checks = extra.get("checks", "")
    roundtrip = roundtrip_toml(
        servers,
        "route-second",
        user=servers.second,
        deadline_s=20,
        check={"interval_s": float(extra.get("interval", "2"))},
        imap={"poll_interval_s": 0.5},
    )
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
stale_after_s = 3
start_spread_s = 0.5
shutdown_grace_s = {extra.get("grace", "1")}

[metrics]
listen = "127.0.0.1:{metrics_port}"
{roundtrip}{checks}
"""


class Daemon(DaemonProcess):
    def __init__(self, tmp_path: Path, servers: MailServers, **extra: str) -> None:
        self.metrics_port = free_port()
        text = config_text(servers, tmp_path / "state", self.metrics_port, **extra)
        super().__init__(tmp_path, text, {"MW_TEST_PASSWORD": servers.password})

    def start(self) -> Daemon:
        super().start()
        return self


@pytest.fixture
def daemon_factory(mail_servers: MailServers, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(**extra: str) -> Daemon:
        daemon = Daemon(tmp_path, mail_servers, **extra)
        started.append(daemon)
        return daemon.start()

    mail_servers.release_delivery()
    yield make
    for daemon in started:
        daemon.stop()
    mail_servers.release_delivery()
    for path in mail_servers.maildir_files("second"):
        path.unlink(missing_ok=True)


def history_widths(database: Path, check: str) -> list[tuple[int, int]] | None:
    """The widths of ``check``'s latency buckets and their counts, read-only; None before any."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT width_s, value_count FROM history_figures WHERE check_name = ? "
            "AND figure = 'latency_s' ORDER BY width_s",
            (check,),
        ).fetchall()
    return [(int(w), int(n)) for w, n in rows] or None


def test_status_file_heartbeat_and_systemd_notifications(
    daemon_factory: Callable[..., Daemon],
) -> None:
    daemon = daemon_factory()
    first = wait_for("status.json", daemon.status)
    jsonschema.validate(first, SCHEMA)
    assert first["daemon"]["pid"] == daemon.proc.pid  # type: ignore[union-attr]

    route = wait_for(
        "a round trip result",
        lambda: (c := daemon.check_status("route-second")) and c["last_run_at"] and c,
    )
    assert route["state"] == "ok", route
    assert route["metrics"]["latency_s"] > 0
    # The result went into the check's history too: its latency in a 5-minute and an hourly
    # bucket (docs/history.md).
    database = daemon.state_dir / "mailwatch.db"
    widths = wait_for(
        "the round trip in the history", lambda: history_widths(database, "route-second")
    )
    assert [width for width, _ in widths] == [300, 3600]
    assert all(count >= 1 for _, count in widths)
    later = wait_for(
        "the heartbeat to advance",
        lambda: (
            (s := daemon.status())
            and s["daemon"]["heartbeat_at"] > first["daemon"]["heartbeat_at"]
            and s
        ),
    )
    jsonschema.validate(later, SCHEMA)
    # status.txt is replaced a moment after status.json (each written and fsynced in turn), so
    # it may still be the one from before the round trip's result.
    wait_for("status.txt to say OK", lambda: "OK" in (daemon.state_dir / "status.txt").read_text())

    messages = wait_for(
        "READY=1 and two watchdog pings",
        lambda: (m := daemon.read_notify()) and "READY=1" in m and m.count("WATCHDOG=1") >= 2 and m,
    )
    assert any(line.startswith("STATUS=") for line in messages)

    proc = daemon.mailwatch("status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "route-second" in proc.stdout


def test_metrics_endpoint_serves_the_families(daemon_factory: Callable[..., Daemon]) -> None:
    daemon = daemon_factory()
    wait_for(
        "a round trip result",
        lambda: (c := daemon.check_status("route-second")) and c["last_run_at"],
    )

    def scrape() -> str | None:
        try:
            url = f"http://127.0.0.1:{daemon.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                text: str = response.read().decode()
        except OSError:
            return None
        return text if "mailwatch_roundtrip_latency_seconds_count" in text else None

    text = wait_for("metrics with a latency sample", scrape)
    for family in (
        'mailwatch_check_state{check="route-second",kind="roundtrip"} 0.0',
        'mailwatch_roundtrip_latency_seconds_count{check="route-second"}',
        'mailwatch_check_last_success_timestamp_seconds{check="route-second"}',
        'mailwatch_open_tickets{severity="1"} 0.0',
        "mailwatch_outbox_backlog 0.0",
        "# TYPE mailwatch_probe_failures_total counter",
    ):
        assert family in text


def test_sighup_with_broken_config_keeps_the_old_one_then_applies_a_good_one(
    daemon_factory: Callable[..., Daemon],
) -> None:
    daemon = daemon_factory()
    wait_for("status.json", daemon.status)
    good = daemon.config.read_text()
    daemon.config.write_text(good + "\n[[checks.service]]\nname = 1\n")
    daemon.send(signal.SIGHUP)
    wait_for("the refusal in the log", lambda: "reload refused" in daemon.stderr)
    assert "checks.service[0]: protocol must be one of" in daemon.stderr
    assert daemon.proc is not None and daemon.proc.poll() is None
    before = wait_for("status.json", daemon.status)["daemon"]["heartbeat_at"]
    wait_for(
        "the heartbeat to go on",
        lambda: (s := daemon.status()) and s["daemon"]["heartbeat_at"] > before,
    )

    added = (
        '\n[[checks.service]]\nname = "smtp-banner"\nprotocol = "smtp"\nhost = "127.0.0.1"\n'
        f"port = {MailServers.smtp_port}\ninterval_s = 1\n"
    )
    daemon.config.write_text(good + added)
    daemon.send(signal.SIGHUP)
    banner = wait_for(
        "the added check to run",
        lambda: (c := daemon.check_status("smtp-banner")) and c["last_run_at"] and c,
    )
    assert banner["state"] == "ok"
    assert daemon.check_status("route-second") is not None


def test_sigterm_during_a_probe_leaves_no_canary_behind(
    daemon_factory: Callable[..., Daemon], mail_servers: MailServers
) -> None:
    mail_servers.hold_delivery()
    held_before = set(mail_servers.queue_ids("hold"))  # the harness's own probe message
    daemon = daemon_factory(interval="60", grace="0")
    wait_for("the daemon to start", daemon.status)
    wait_for(
        "the canary in the hold queue", lambda: set(mail_servers.queue_ids("hold")) - held_before
    )
    daemon.send(signal.SIGTERM)
    # Delivery resumes while the daemon shuts down: the cancelled probe fetches its canary.
    mail_servers.release_delivery()
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 0, daemon.stderr
    assert "cancelled checks still running at shutdown: route-second" in daemon.stderr
    # First the canary's delivery: qmgr removes its queue file a moment after the Maildir
    # file is written. Only then can an empty mailbox mean the probe removed the canary.
    wait_for("the canary to leave the queue", lambda: set(mail_servers.queue_ids()) <= held_before)
    wait_for("an empty mailbox", lambda: mail_servers.maildir_files("second") == [] or None)


def test_status_says_stale_after_the_daemon_is_killed(
    daemon_factory: Callable[..., Daemon],
) -> None:
    daemon = daemon_factory()
    wait_for("an ok overall state", lambda: (s := daemon.status()) and s["overall"] == "ok")
    assert daemon.mailwatch("status").returncode == 0
    daemon.send(signal.SIGKILL)
    assert daemon.proc is not None
    daemon.proc.wait(10)

    def stale() -> subprocess.CompletedProcess[str] | None:
        proc = daemon.mailwatch("status")
        return proc if proc.returncode == 3 and "STALE" in proc.stdout else None

    proc = wait_for("mailwatch status to call the heartbeat stale", stale, timeout_s=15)
    assert "STALE" in proc.stdout
    assert "down or hung" in proc.stdout

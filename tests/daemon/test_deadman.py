"""The dead man's switch: pings while healthy, the failure URL when alerts are stuck."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helpers.builders import T0, config, result
from mailwatch.daemon.deadman import Health, assess
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.store.outbox import OutboxRow, insert_outbox
from mailwatch.store.store import Store

TOKEN = "c0ffee-secret-token"


class PingReceiver:
    """A real HTTP server on loopback that records the pings it gets."""

    def __init__(self) -> None:
        self.pings: list[tuple[str, str]] = []
        received = self.pings

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append((self.path, self.rfile.read(length).decode()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[PingReceiver]:
    server = PingReceiver()
    yield server
    server.close()


def wait_until(what: str, condition: object, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def queue_notification(db: Path, queued_at: datetime, assess_at: datetime) -> Health:
    """A ticket with one notification queued at ``queued_at``; health as of ``assess_at``."""
    store = await Store.open(f"sqlite+aiosqlite:///{db}")
    try:
        settings = config(incidents={"open_after": 1})
        outcome = await process_result(
            store, settings, result(State.CRITICAL, queued_at), queued_at
        )
        event = outcome.events[0]
        async with store.write() as conn:
            row = OutboxRow(
                event_id=event.id, ticket=event.event.ticket, route="team", kind="opened"
            )
            await insert_outbox(conn, [row], queued_at)
        return await assess(store, assess_at, stuck_after_s=900)
    finally:
        await store.close()


async def test_assess_reports_stuck_alerts(tmp_path: Path) -> None:
    fresh = await queue_notification(tmp_path / "a.db", T0, T0 + timedelta(minutes=1))
    assert fresh == Health(True, "ok")
    stuck = await queue_notification(tmp_path / "b.db", T0, T0 + timedelta(minutes=20))
    assert stuck == Health(False, "alerts stuck: a notification has waited 20 min in the outbox")


def run_daemon(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    cfg = tmp_path / "mailwatch.toml"
    cfg.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
deadman_url = "env:MW_DEADMAN_URL"
deadman_interval_s = 0.2
outbox_stuck_after_s = 60
"""
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MW_DEADMAN_URL": f"http://127.0.0.1:{port}/ping/{TOKEN}",
        # The code under test (the checkout's src/), not whatever mailwatch the interpreter
        # would find on its own: the database this test writes has the checkout's schema.
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
    }
    with (tmp_path / "stderr.log").open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "mailwatch", "run", "-c", str(cfg)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    assert proc.wait(15) == 0


def test_daemon_pings_while_healthy(tmp_path: Path, receiver: PingReceiver) -> None:
    proc = run_daemon(tmp_path, receiver.port)
    try:
        wait_until("two pings", lambda: len(receiver.pings) >= 2)
    finally:
        stop(proc)
    assert receiver.pings[0] == (f"/ping/{TOKEN}", "ok")


async def test_daemon_pings_the_failure_url_when_alerts_are_stuck(
    tmp_path: Path, receiver: PingReceiver
) -> None:
    (tmp_path / "state").mkdir()
    # Queued an hour ago: far longer than the configured 60 s.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await queue_notification(tmp_path / "state" / "mailwatch.db", an_hour_ago, an_hour_ago)
    proc = run_daemon(tmp_path, receiver.port)
    try:
        wait_until("a failure ping", lambda: bool(receiver.pings))
    finally:
        stop(proc)
    path, body = receiver.pings[0]
    assert path == f"/ping/{TOKEN}/fail"
    assert body.startswith("alerts stuck: a notification has waited")
    assert TOKEN not in (tmp_path / "stderr.log").read_text()

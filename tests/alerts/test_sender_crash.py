"""Crashes and restarts: a real ``mailwatch run`` killed with SIGKILL in the middle of an
escalation ladder resumes at the right step and repeats none; a notice interrupted in flight
is sent again (the one at-least-once case); a delivered notice never is."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from helpers.http_receiver import HttpReceiver
from helpers.outbox_support import T0, alert_config, fail, open_store, rows, seconds, sender
from helpers.tcp_responders import free_port
from mailwatch.store.outbox import Interrupted, change_status

T = TypeVar("T")

STEP_GAP_S = 3
"""Seconds between the steps of the ladder the daemon runs: long enough to kill it between
two steps on a slow machine, short enough for a quick test."""


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def ladder_config(state_dir: Path, receiver: HttpReceiver, timeout_s: float = 10) -> str:
    """A check that always fails (nothing listens on its port) and a sev1 ladder of four steps,
    each to its own route so the receiver can count deliveries per step."""
    routes = "\n".join(
        f'[routes.step{n}]\nurls = ["{receiver.url(f"/step{n}")}"]\n' for n in range(1, 5)
    )
    steps = ", ".join(
        f'{{ after = "{(n - 1) * STEP_GAP_S}s", routes = ["step{n}"] }}' for n in range(1, 5)
    )
    return f"""
[daemon]
state_dir = "{state_dir}"
start_spread_s = 0
status_interval_s = 1

[incidents]
open_after = 1

[[checks.service]]
name = "smtp-down"
protocol = "smtp"
host = "127.0.0.1"
port = {free_port()}
interval_s = 1
timeout_s = 2
severity = 1

[alerts]
timeout_s = {timeout_s}

{routes}
[escalation.sev1]
steps = [{steps}]

[reminders]
before_resolution_due = "0m"

[outbox]
poll_interval_s = 0.1
group_wait_s = 0
"""


class Run:
    """``mailwatch run`` as a subprocess, started and killed by the test."""

    def __init__(self, tmp_path: Path, text: str) -> None:
        self.config = tmp_path / "mailwatch.toml"
        self.config.write_text(text)
        self.db = tmp_path / "state" / "mailwatch.db"
        self.status = tmp_path / "state" / "status.json"
        self.log = tmp_path / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailwatch", "run", "-c", str(self.config)],
                env={
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    # The code under test (the checkout's src/), not whatever mailwatch the
                    # interpreter would find on its own.
                    **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},
                },
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def outbox(self) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5) as conn:
            conn.row_factory = sqlite3.Row
            try:
                found = conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()
            except sqlite3.OperationalError:
                return []  # not created yet
        return [dict(row) | {"payload": json.loads(row["payload"])} for row in found]

    def status_of(self, route: str) -> str | None:
        for row in self.outbox():
            if row["route"] == route and row["kind"] in ("opened", "escalation"):
                return str(row["status"])
        return None


def per_path(receiver: HttpReceiver) -> Counter[str]:
    return Counter(request.path for request in receiver.requests)


def test_a_ladder_killed_between_steps_resumes_without_repeating(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        run = Run(tmp_path, ladder_config(tmp_path / "state", receiver))
        try:
            run.start()
            wait_for("step 2 delivered", lambda: run.status_of("step2") == "delivered")
            run.kill()
            assert per_path(receiver) == {"/step1": 1, "/step2": 1}
            assert [r["status"] for r in run.outbox()] == [
                "delivered",
                "delivered",
                "scheduled",
                "scheduled",
            ]
            run.start()
            receiver.wait_for(4, timeout_s=30)
            wait_for("step 4 settled", lambda: run.status_of("step4") == "delivered")
            with pytest.raises(TimeoutError):
                receiver.wait_for(5, timeout_s=2 * STEP_GAP_S)  # nothing more comes
            assert per_path(receiver) == {"/step1": 1, "/step2": 1, "/step3": 1, "/step4": 1}

            def step_in_status() -> int | None:
                tickets = json.loads(run.status.read_text())["tickets"]
                return tickets[0]["escalation_step"] if tickets else None

            assert wait_for("status file at step 4", lambda: step_in_status() == 4)
        finally:
            run.stop()
    outbox = run.outbox()
    assert [(r["route"], r["status"], r["attempts"]) for r in outbox] == [
        (f"step{n}", "delivered", 1) for n in range(1, 5)
    ]


def test_a_notice_interrupted_in_flight_is_sent_again(tmp_path: Path) -> None:
    """SIGKILL while the receiver holds the request unanswered: the attempt's outcome is
    unknown, so after the restart it is sent again (documented as at-least-once)."""
    with HttpReceiver(hang=True) as receiver:
        run = Run(tmp_path, ladder_config(tmp_path / "state", receiver, timeout_s=30))
        try:
            run.start()
            receiver.wait_for(1, timeout_s=30)
            assert run.status_of("step1") == "sending"
            run.kill()
            receiver.hang = False
            receiver._released.set()
            run.start()
            wait_for("step 1 settled", lambda: run.status_of("step1") == "delivered")
        finally:
            run.stop()
    assert per_path(receiver)["/step1"] == 2
    step1 = run.outbox()[0]
    assert (step1["status"], step1["attempts"]) == ("delivered", 2)


async def test_recover_sends_an_interrupted_row_once_and_never_a_delivered_one(
    tmp_path: Path,
) -> None:
    """The state a killed sender leaves (a row in ``sending``) is set up here directly; the
    subprocess tests above produce it for real."""
    with HttpReceiver() as team:
        cfg = alert_config({"team": {"urls": [team.url("/t")]}, "ops": {"urls": [team.url("/o")]}})
        async with open_store(tmp_path) as store:
            await fail(store, cfg, T0)
            first = sender(store, cfg)
            async with store.write() as conn:
                assert await change_status(conn, 1, "pending", "sending", attempt_started_at=T0)
            assert (await first.run_once(T0)).delivered == [2]  # row 1 looks in flight
            restarted = sender(store, cfg)
            assert (await restarted.recover(T0 + seconds(5))).resent == [1]
            assert (await restarted.run_once(T0 + seconds(5))).delivered == [1]
            again = sender(store, cfg)
            assert await again.recover(T0 + seconds(6)) == Interrupted()
            assert (await again.run_once(T0 + seconds(6))).handled == 0
            assert sorted(r.path for r in team.requests) == ["/o", "/t"]
            assert [(r.status, r.attempts) for r in await rows(store)] == [
                ("delivered", 2),
                ("delivered", 1),
            ]

"""A real ``mailwatch run`` stopped mid-delivery: SIGTERM lets a delivery in flight finish
within ``[daemon] shutdown_grace_s``; SIGKILL at random moments, again and again, loses no
notice, opens one ticket, and gets no notice to its receiver more than 1 +
``[outbox] max_interrupted_resends`` (default 1) times, counted at the receiver by each
request's idempotency key. A notice cut off once too often is recorded "delivery uncertain".

The kill suite prints its counts (kills, notices, deliveries, repeats, uncertain): run it with
``-s`` to see them.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.daemon import wait_for
from helpers.http_receiver import HttpReceiver, ReceivedRequest
from helpers.outbox_support import ReturningReceiver
from helpers.tcp_responders import free_port

NOTICES = 20
"""Notices of the one ticket, one per route (so none supersedes another), due GAP_S apart;
20 is the longest ladder ``[escalation]`` allows."""
GAP_S = 1
KILLS = int(os.environ.get("MAILWATCH_TEST_KILLS", "16"))
"""Kills per test run; each run picks its moments afresh (the seed is printed), so CI covers
more over time. ``MAILWATCH_TEST_KILLS=100`` for a long soak."""
MAX_RESENDS = 1
"""``[outbox] max_interrupted_resends`` as shipped."""
WAIT_S = 20.0
"""Bound on every wait for an event; far above what any takes on a loaded machine."""


def config(state_dir: Path, port: int, *, notices: int, grace_s: float = 10) -> str:
    """A check that always fails (nothing listens on its port), a ticket at its first
    failure, and a ladder that sends one notice to each of ``notices`` routes, ``GAP_S``
    apart, all to the receiver on ``port`` (the path names the step)."""
    routes = "\n".join(
        f'[routes.step{n}]\nurls = ["json://127.0.0.1:{port}/step{n}"]\n'
        for n in range(1, notices + 1)
    )
    steps = ", ".join(
        f'{{ after = "{(n - 1) * GAP_S}s", routes = ["step{n}"] }}' for n in range(1, notices + 1)
    )
    return f"""
[daemon]
state_dir = "{state_dir}"
start_spread_s = 0
status_interval_s = 1
shutdown_grace_s = {grace_s}

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
timeout_s = 10

{routes}
[escalation.sev1]
steps = [{steps}]

[reminders]
before_resolution_due = "0m"

[outbox]
poll_interval_s = 0.1
group_wait_s = 0
retry_initial_s = 0.2
retry_max_s = 1
"""


class Daemon:
    """``mailwatch run`` as a subprocess of the code under test, started, killed and stopped
    by the test; its stderr goes to one log across runs."""

    def __init__(self, tmp_path: Path, text: str) -> None:
        self.config = tmp_path / "mailwatch.toml"
        self.config.write_text(text)
        self.db = tmp_path / "state" / "mailwatch.db"
        self.log = tmp_path / "daemon.log"
        self.log.touch()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_offset = 0

    def start(self) -> None:
        self.log_offset = self.log.stat().st_size
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # the code under test
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailwatch", "run", "-c", str(self.config)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def signal(self, signum: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(WAIT_S)

    def kill_leftover(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT_S)

    def this_run_logged(self, text: str) -> bool:
        with self.log.open("rb") as log:
            log.seek(self.log_offset)
            return text in log.read().decode(errors="replace")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            try:
                return conn.execute(sql).fetchall()
            except sqlite3.OperationalError:
                return []  # not created yet, or busy: asked again

    def outbox(self) -> dict[int, tuple[str, str, int]]:
        """Each row's route, status and interrupted resends, by id."""
        found = self.query("SELECT id, route, status, interrupted_resends FROM outbox")
        return {row[0]: (row[1], row[2], row[3]) for row in found}

    def attempts_recorded(self) -> int:
        """Timeline events of delivery attempts: one more each time an attempt is settled."""
        found = self.query("SELECT count(*) FROM ticket_events WHERE type LIKE 'notification_%'")
        return int(found[0][0]) if found else 0


def key_of(request: ReceivedRequest) -> int:
    """The request's idempotency key; header and body field must agree."""
    header = request.headers["Idempotency-Key"]
    assert request.json()["idempotency_key"] == header
    return int(header)


@dataclass
class KillTally:
    scenario: str
    seed: int
    kills: Counter[str] = field(default_factory=Counter)

    def report(self, daemon: Daemon, receiver: HttpReceiver, started: float) -> dict[str, Any]:
        rows = daemon.outbox()
        delivered = Counter(key_of(r) for r, status in receiver.answered if status == 200)
        arrived = Counter(key_of(r) for r in receiver.requests)
        uncertain = sorted(i for i, (_r, status, _n) in rows.items() if status == "uncertain")
        figures = {
            "scenario": self.scenario,
            "seed": self.seed,
            "kills": sum(self.kills.values()),
            "kills_by_moment": dict(sorted(self.kills.items())),
            "notices": len(rows),
            "requests": len(receiver.requests),
            "deliveries": sum(delivered.values()),
            "delivered_twice": sum(1 for n in delivered.values() if n == 2),
            "most_deliveries_of_one_notice": max(delivered.values(), default=0),
            "most_requests_of_one_notice": max(arrived.values(), default=0),
            "uncertain": len(uncertain),
            "uncertain_never_arrived": sum(1 for i in uncertain if i not in delivered),
            "interrupted_resends": sum(n for _r, _s, n in rows.values()),
            "seconds": round(time.monotonic() - started, 1),
        }
        print(f"\nkill suite: {json.dumps(figures)}")
        return figures


def finished(daemon: Daemon) -> bool:
    rows = daemon.outbox()
    return len(rows) == NOTICES and all(
        status in ("delivered", "uncertain") for _r, status, _n in rows.values()
    )


@dataclass(frozen=True)
class Before:
    """Counts taken before a start, to see the next event of each sort."""

    requests: int
    answers: int
    settled: int


def wait_for_moment(
    moment: str, daemon: Daemon, receiver: HttpReceiver | None, before: Before
) -> str:
    """Wait for the next event of the sort ``moment`` names; what it came to: ``moment``, or
    ``idle`` when every notice was finished first (by this very start's recovery)."""
    if moment == "started":
        wait_for("the daemon's start", lambda: daemon.this_run_logged(" started: "), WAIT_S)
        return moment
    if moment == "settled":
        wait_for(
            "an attempt settled",
            lambda: daemon.attempts_recorded() > before.settled or finished(daemon),
            WAIT_S,
        )
    else:
        assert receiver is not None

        def seen() -> bool:
            assert receiver is not None
            if moment == "arrived":
                return len(receiver.requests) > before.requests
            return len(receiver.answered) > before.answers

        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                # Woken by the receiver itself, so the kill follows the event at once.
                receiver.wait_until(moment, seen, 0.25)
                return moment
            except TimeoutError:
                if finished(daemon):
                    break
                if time.monotonic() > deadline:
                    raise
    return "idle" if finished(daemon) else moment


def kill_at_random_moments(
    daemon: Daemon,
    receiver: HttpReceiver | None,
    tally: KillTally,
    rng: random.Random,
    kills: int,
) -> None:
    """Start the daemon and SIGKILL it at a moment picked at random among events that each
    mark a different place in a delivery: just started (recovering, claiming), a request
    just arrived at the receiver (in flight), the receiver just answered (the daemon has
    not settled it yet), an attempt just settled. ``receiver`` None: nothing is listening."""
    for _ in range(kills):
        if finished(daemon):
            moments = ["started"]  # nothing left to interrupt: a kill while idle
        elif receiver is None:
            moments = ["started", "settled"]
        else:
            moments = ["started", "settled", "arrived", "answered"]
        moment = rng.choice(moments)
        before = Before(
            len(receiver.requests) if receiver else 0,
            len(receiver.answered) if receiver else 0,
            daemon.attempts_recorded(),
        )
        daemon.start()
        hit = wait_for_moment(moment, daemon, receiver, before)
        assert daemon.signal(signal.SIGKILL) == -signal.SIGKILL
        tally.kills[hit] += 1


def settle_and_stop(daemon: Daemon) -> None:
    """One last run until every notice is finished, then a clean stop."""
    daemon.start()
    wait_for("the daemon's start", lambda: daemon.this_run_logged(" started: "), WAIT_S)
    wait_for("every notice delivered or uncertain", lambda: finished(daemon), 60)
    assert daemon.signal(signal.SIGTERM) == 0


def assert_nothing_lost_nothing_thrice(
    daemon: Daemon, receiver: HttpReceiver, figures: dict[str, Any]
) -> None:
    rows = daemon.outbox()
    delivered = Counter(key_of(r) for r, status in receiver.answered if status == 200)
    assert len(rows) == NOTICES, figures
    assert daemon.query("SELECT count(*) FROM tickets") == [(1,)], figures
    for row_id, (route, status, _resends) in rows.items():
        if status == "delivered":
            assert delivered[row_id] >= 1, (row_id, route, figures)
        else:
            assert status == "uncertain", (row_id, route, status, figures)
    # Each key is the row it names: the request went to that row's route.
    for request in receiver.requests:
        assert request.path == f"/{rows[key_of(request)][0]}", figures
    assert max(delivered.values(), default=0) <= 1 + MAX_RESENDS, (delivered, figures)
    uncertain_events = daemon.query(
        "SELECT json_extract(payload, '$.outbox_id') FROM ticket_events "
        "WHERE type = 'notification_uncertain'"
    )
    uncertain = {i for i, (_r, status, _n) in rows.items() if status == "uncertain"}
    assert {i for (i,) in uncertain_events} == uncertain, figures
    assert figures["kills"] >= KILLS


def test_sigkill_at_random_moments_with_a_slow_receiver(tmp_path: Path) -> None:
    """Each request is held a second before the answer, so many kills land in flight."""
    seed = random.randrange(2**32)
    rng, tally, started = random.Random(seed), KillTally("slow receiver", seed), time.monotonic()
    with HttpReceiver(hold_s=1.0) as receiver:
        daemon = Daemon(tmp_path, config(tmp_path / "state", receiver.port, notices=NOTICES))
        try:
            kill_at_random_moments(daemon, receiver, tally, rng, KILLS)
            settle_and_stop(daemon)
        finally:
            daemon.kill_leftover()
        receiver.wait_until(
            "answers to every request",
            lambda: len(receiver.answered) == len(receiver.requests),
            WAIT_S,
        )
        figures = tally.report(daemon, receiver, started)
        assert_nothing_lost_nothing_thrice(daemon, receiver, figures)


def test_sigkill_at_random_moments_while_the_receiver_fails_and_comes_back(
    tmp_path: Path,
) -> None:
    """For the first third of the kills nothing listens (connection refused); then the
    receiver comes back on the same address, answers its first requests 503, then 200 after
    a short hold."""
    seed = random.randrange(2**32)
    rng, tally, started = random.Random(seed), KillTally("failing receiver", seed), time.monotonic()
    port = free_port()
    receiver = ReturningReceiver(port, statuses=[503] * 10, hold_s=0.3)
    daemon = Daemon(tmp_path, config(tmp_path / "state", port, notices=NOTICES))
    try:
        kill_at_random_moments(daemon, None, tally, rng, KILLS // 3)
        with receiver:
            kill_at_random_moments(daemon, receiver, tally, rng, KILLS - KILLS // 3)
            settle_and_stop(daemon)
            receiver.wait_until(
                "answers to every request",
                lambda: len(receiver.answered) == len(receiver.requests),
                WAIT_S,
            )
    finally:
        daemon.kill_leftover()
    figures = tally.report(daemon, receiver, started)
    assert_nothing_lost_nothing_thrice(daemon, receiver, figures)


def one_notice(tmp_path: Path, port: int, grace_s: float) -> Daemon:
    return Daemon(tmp_path, config(tmp_path / "state", port, notices=1, grace_s=grace_s))


def test_sigterm_lets_a_delivery_in_flight_finish(tmp_path: Path) -> None:
    with HttpReceiver(hold_s=1.5) as receiver:
        daemon = one_notice(tmp_path, receiver.port, grace_s=10)
        try:
            daemon.start()
            receiver.wait_for(1, WAIT_S)
            assert daemon.signal(signal.SIGTERM) == 0  # waited for the answer, then stopped
        finally:
            daemon.kill_leftover()
    assert daemon.outbox() == {1: ("step1", "delivered", 0)}  # never sent again
    assert [status for _r, status in receiver.answered] == [200]
    assert not daemon.this_run_logged("cut off")


def test_sigterm_cuts_off_a_delivery_that_outlasts_the_grace(tmp_path: Path) -> None:
    """The receiver says nothing until the daemon has given up waiting: the attempt is cut
    off, and sent again (once) at the next start, under the same key."""
    with HttpReceiver(hang=True) as receiver:
        daemon = one_notice(tmp_path, receiver.port, grace_s=0.5)
        try:
            daemon.start()
            receiver.wait_for(1, WAIT_S)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGTERM)
            wait_for("the cut-off warning", lambda: daemon.this_run_logged("cut off"), WAIT_S)
            receiver.hang = False
            receiver._released.set()  # let the held request go, so the old process can exit
            assert daemon.proc.wait(WAIT_S) == 0
            assert daemon.outbox() == {1: ("step1", "sending", 0)}
            daemon.start()
            wait_for("the resend", lambda: daemon.outbox()[1][1] == "delivered", WAIT_S)
            assert daemon.signal(signal.SIGTERM) == 0
        finally:
            daemon.kill_leftover()
    assert daemon.outbox() == {1: ("step1", "delivered", 1)}
    assert [key_of(r) for r in receiver.requests] == [1, 1]
    assert "1 delivery(ies) still running after shutdown_grace_s (0.5 s) cut off" in (
        daemon.log.read_text()
    )

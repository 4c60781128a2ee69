"""Confirmation retries in the real daemon (``Daemon.run`` in this test's event loop, with its
store, engine and scheduler) against real peers on loopback: a port nobody listens on (the
kernel refuses the connection), aiosmtpd, and the harness's Postfix and Dovecot.

Every check here has ``interval_s = 3600``: any run after the first within the test's bounds
is a retry, and the next regular run is an hour away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from harness.mailservers import MailServers
from helpers.tcp_responders import Responder, free_port, tarpit
from mailwatch.config.model import MailwatchConfig
from mailwatch.daemon.scheduler import CheckScheduler
from mailwatch.daemon.service import Daemon
from mailwatch.store.store import Store
from mailwatch.store.tickets import open_tickets

CHECK = "smtp-in"
HOUR_S = 3600.0


def config(tmp_path: Path, port: int, open_after: int, **check: Any) -> MailwatchConfig:
    service = {
        "name": CHECK,
        "protocol": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "interval_s": HOUR_S,
        "timeout_s": 5,
        **check,
    }
    return MailwatchConfig.model_validate(
        {
            "daemon": {"state_dir": str(tmp_path / "state"), "start_spread_s": 0},
            "incidents": {"open_after": open_after},
            "checks": {"service": [service]},
        }
    )


async def until(what: str, probe: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait for ``probe()`` to hold, polling the daemon's own counters; fail after the bound."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(cfg: MailwatchConfig, tmp_path: Path) -> AsyncIterator[Daemon]:
    daemon = Daemon(tmp_path / "mailwatch.toml", cfg)
    task = asyncio.create_task(daemon.run())
    try:
        await until("the schedule", lambda: daemon.scheduler is not None, 10)
        yield daemon
    finally:
        daemon.stop()
        assert await asyncio.wait_for(task, 30) == 0


def schedule(daemon: Daemon) -> CheckScheduler:
    assert daemon.scheduler is not None
    return daemon.scheduler


async def tickets(cfg: MailwatchConfig) -> list[str]:
    store = await Store.open(cfg.store.resolved_url(cfg.daemon.state_dir), create=False)
    try:
        async with store.read() as conn:
            return [ticket.check for ticket in await open_tickets(conn)]
    finally:
        await store.close()


def next_run_in_s(daemon: Daemon) -> float:
    at = schedule(daemon).next_run(CHECK)
    assert at is not None
    return (at - datetime.now(UTC)).total_seconds()


async def test_a_failure_is_retried_until_its_ticket_opens(tmp_path: Path) -> None:
    cfg = config(tmp_path, free_port(), open_after=3, retry_interval_s=0.2)
    async with running(cfg, tmp_path) as daemon:
        runs = schedule(daemon).runs
        await until("three runs", lambda: runs[CHECK] >= 3)
        status = daemon.checks[CHECK]
        assert status.state.label == "critical"
        # The third failure opened the ticket: no more retries, the interval is back.
        assert schedule(daemon).retries[CHECK] == 2
        assert next_run_in_s(daemon) > HOUR_S - 60
    assert await tickets(cfg) == [CHECK]
    assert runs[CHECK] == 3


async def test_a_run_longer_than_the_retry_interval_is_retried_at_once(tmp_path: Path) -> None:
    """A tarpit that never greets: each run lasts its whole 0.5 s timeout, longer than the
    0.1 s retry interval (counted start to start), so the retry follows the result at once,
    and is not refused as a second instance of the run still finishing."""
    async with Responder(tarpit()) as peer:
        cfg = config(tmp_path, peer.port, open_after=3, retry_interval_s=0.1, timeout_s=0.5)
        async with running(cfg, tmp_path) as daemon:
            runs = schedule(daemon).runs
            await until("three runs", lambda: runs[CHECK] >= 3)
            assert schedule(daemon).missed[CHECK] == 0
            assert schedule(daemon).retries[CHECK] == 2
            assert next_run_in_s(daemon) > HOUR_S - 60
    assert await tickets(cfg) == [CHECK]


async def test_without_retries_the_failure_waits_for_the_interval(tmp_path: Path) -> None:
    """The same failure with ``retry_interval_s = interval_s``: the next run is an hour away,
    so no ticket yet (what every check did before retries)."""
    cfg = config(tmp_path, free_port(), open_after=2, retry_interval_s=HOUR_S)
    async with running(cfg, tmp_path) as daemon:
        runs = schedule(daemon).runs
        await until("the first run", lambda: runs[CHECK] >= 1)
        # Its task done, the moment a retry would be scheduled.
        await until("the first run's end", lambda: not schedule(daemon).in_flight)
        assert daemon.checks[CHECK].state.label == "critical"
        assert next_run_in_s(daemon) > HOUR_S - 60
        assert schedule(daemon).retries[CHECK] == 0
    assert await tickets(cfg) == []


async def test_a_recovery_before_the_ticket_ends_the_retries(tmp_path: Path) -> None:
    port = free_port()
    # open_after 20 at 0.2 s: about 4 s to start the server before a ticket could open.
    cfg = config(tmp_path, port, open_after=20, retry_interval_s=0.2)
    async with running(cfg, tmp_path) as daemon:
        runs = schedule(daemon).runs
        await until("the first run", lambda: runs[CHECK] >= 1)
        assert daemon.checks[CHECK].state.label == "critical"
        async with smtp_server(port):
            await until("an ok result", lambda: daemon.checks[CHECK].state.label == "ok")
            seen = runs[CHECK]
            assert schedule(daemon).retries[CHECK] == seen - 1
            assert next_run_in_s(daemon) > HOUR_S - 60
    assert await tickets(cfg) == []


async def test_the_retry_of_a_held_round_trip_confirms_in_the_shorter_wait(
    tmp_path: Path, mail_servers: MailServers
) -> None:
    """Postfix parks every message in its hold queue. The first failing run waits its learned
    deadline (here the 3 s floor); the daemon's retry, told it confirms while the first canary
    is still missing, gives its own canary the learned wait without that floor, and the ticket
    opens on it. ``learned_deadline_factor = 1`` keeps the shorter wait at the slowest healthy
    latency (at least 0.5 s), below 3 s on any machine the harness runs on."""
    servers = mail_servers
    roundtrip = {
        "name": CHECK,
        "mail_from": "mailwatch@example.test",
        "rcpt_to": servers.canary,
        "interval_s": 1,
        "retry_interval_s": 1,
        "deadline_s": 30,
        "learned_deadline_factor": 1,
        "learned_deadline_min_s": 3,
        "confirmation_deadline_min_s": 0.5,
        "smtp": {"host": "localhost", "port": servers.smtp_port, "ca_file": str(servers.ca_file)},
        "imap": {
            "host": "localhost",
            "port": servers.imaps_port,
            "ca_file": str(servers.ca_file),
            "username": servers.canary,
            "password": servers.password,
            "poll_interval_s": 0.5,
        },
    }
    cfg = MailwatchConfig.model_validate(
        {
            "daemon": {"state_dir": str(tmp_path / "state"), "start_spread_s": 0},
            "incidents": {"open_after": 2},
            "checks": {"roundtrip": [roundtrip]},
        }
    )
    try:
        async with running(cfg, tmp_path) as daemon:
            status = daemon.checks[CHECK]
            runs = schedule(daemon).runs
            # Five healthy round trips: the deadline is learned from then on.
            await until("five healthy runs", lambda: runs[CHECK] >= 6, 60)
            assert status.state.label == "ok", status.summary
            await asyncio.to_thread(servers.hold_delivery)
            await until("a confirmed failure", lambda: "confirming" in status.summary, 60)
            assert status.stage == "not_delivered"
            assert status.metrics["deadline_s"] < 3
            assert "the previous run's canary is still missing" in status.summary
    finally:
        await asyncio.to_thread(servers.release_delivery)
        await until("the queue delivered", lambda: not servers.queue_ids(), 30)
        for path in servers.maildir_files("canary"):  # the released canaries
            path.unlink(missing_ok=True)
    assert await tickets(cfg) == [CHECK]


@asynccontextmanager
async def smtp_server(port: int) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(object(), hostname="mx.mailwatch.test", loop=loop), "127.0.0.1", port
    )
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ({"interval_s": 60}, 10.0),
        ({"interval_s": 4}, 4.0),
        ({"interval_s": 300, "retry_interval_s": 30}, 30.0),
    ],
)
def test_retry_interval_defaults_to_10_s_or_the_interval(
    check: dict[str, float], expected: float, tmp_path: Path
) -> None:
    cfg = config(tmp_path, 25, open_after=2, **check)
    assert cfg.checks.service[0].confirm_interval_s == expected


def test_a_retry_interval_longer_than_the_interval_is_refused(tmp_path: Path) -> None:
    from mailwatch.config.loader import load_config
    from mailwatch.domain.errors import ConfigError

    path = tmp_path / "mailwatch.toml"
    path.write_text(
        '[[checks.service]]\nname = "x"\nprotocol = "smtp"\nhost = "127.0.0.1"\n'
        "interval_s = 30\nretry_interval_s = 60\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "retry_interval_s (60) must not be longer than interval_s (30)" in str(
        caught.value.problems
    )
    assert "checks.service[0]" in str(caught.value.problems)

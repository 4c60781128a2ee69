"""Confirmation retries in the real daemon (``Daemon.run`` in this test's event loop, with its
store, engine and scheduler) against real peers on loopback: a port nobody listens on (the
kernel refuses the connection) and aiosmtpd.

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

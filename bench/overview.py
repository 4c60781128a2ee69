"""``python -m bench.overview``: the web overview's server time with 1,000 checks and 50 open
tickets (issue 15: p95 at most 100 ms), and a check's page beside it.

Builds a SQLite store whose 50 tickets were opened by the real processor (two critical
results each), 1,000 checks in the daemon's live records (50 critical, 50 warning, the rest
ok, each with a summary as long as a canary's), and serves the real web application on a
loopback port, as ``mailwatch run`` does. Then, logged in, it fetches ``/`` (and
``/checks/NAME``) N times one after another and prints the median, p95 and max of:

- **server**: the handler's own time (an aiohttp middleware around it, as the access log
  measures): the status snapshot (a store read and the model), the HTML, the response;
- **round trip**: from the client's request to its last byte read, on the same event loop.

Needs no mail servers, no root: ``.venv/bin/python -m bench.overview``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.stats import percentile
from mailwatch.config import MailwatchConfig
from mailwatch.domain.results import CheckResult, State
from mailwatch.incidents.processor import process_result
from mailwatch.status.build import read_stored_facts
from mailwatch.status.changes import StatusVersion
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import DaemonInfo, StatusSnapshot, assemble
from mailwatch.store.store import Store
from mailwatch.web.app import build_app
from mailwatch.web.passwords import hash_password

PASSWORD = "bench-overview-password"
SUMMARY = "canary delivered in 4.2 s (SMTP 0.31 s, IMAP poll 3.9 s) via mx1.example.net"


class BenchHost:
    """The daemon's part, as ``Daemon`` plays it: live records, the store, the version."""

    def __init__(self, config: MailwatchConfig, store: Store) -> None:
        self._config = config
        self._store = store
        self.checks: dict[str, CheckStatus] = {}
        self.last_heartbeat: datetime | None = datetime.now(UTC)
        self.status_version = StatusVersion()

    @property
    def config(self) -> MailwatchConfig:
        return self._config

    @property
    def store(self) -> Store:
        return self._store

    async def snapshot(self) -> StatusSnapshot:
        now = datetime.now(UTC)
        async with self._store.read() as conn:
            stored = await read_stored_facts(conn, now)
        snapshot = assemble(
            now,
            DaemonInfo("bench", 1, now),
            self.checks.values(),
            stored,
            {},
            self._config.maintenance,
            ticket_prefix=self._config.incidents.ticket_prefix,
        )
        self.status_version.observe(snapshot)
        return snapshot

    def changed(self) -> None:
        pass


def bench_config(state_dir: Path, checks: int) -> MailwatchConfig:
    return MailwatchConfig.model_validate(
        {
            "daemon": {"state_dir": str(state_dir)},
            "checks": {
                "service": [
                    {
                        "name": f"check{n:04d}",
                        "protocol": "banner",
                        "host": "127.0.0.1",
                        "port": 9,
                        "banner": "^220",
                    }
                    for n in range(checks)
                ]
            },
            "web": {
                "listen": "127.0.0.1:1",
                "cookie_secure": False,
                "users": {"alice": {"password_hash": hash_password(PASSWORD)}},
            },
        }
    )


def _result(name: str, state: State, at: datetime) -> CheckResult:
    failing = state is not State.OK
    return CheckResult(
        check=name,
        kind="service",
        target=name,
        state=state,
        summary=("banner: connection refused by 127.0.0.1:9 " if failing else "") + SUMMARY,
        stage="connect" if failing else None,
        started_at=at - timedelta(seconds=4),
        finished_at=at,
        metrics={"connect_s": 0.002, "banner_s": 0.004},
    )


async def fill(host: BenchHost, checks: int, tickets: int) -> None:
    now = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(checks):
        name = f"check{n:04d}"
        state = State.CRITICAL if n < tickets else State.WARNING if n < 2 * tickets else State.OK
        status = CheckStatus(name, "service", name)
        runs = 2 if n < tickets else 1  # open_after = 2: two failures open a ticket
        for i in range(runs):
            result = _result(name, state, now + timedelta(seconds=i))
            status.record(result)
            if n < tickets:
                await process_result(host.store, host.config, result, result.finished_at)
        host.checks[name] = status


async def log_in(client: aiohttp.ClientSession, base: str) -> None:
    async with client.get(f"{base}/login") as form:
        found = re.search(r'name="nonce" value="([^"]*)"', await form.text())
    assert found is not None
    async with client.post(
        f"{base}/login",
        data={"nonce": found.group(1), "user": "alice", "password": PASSWORD},
        allow_redirects=False,
    ) as answer:
        assert answer.status == 303, answer.status


def timing_middleware(samples: list[float]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def timed(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            return await handler(request)
        finally:
            samples.append(time.perf_counter() - start)

    return timed


async def measure(checks: int, tickets: int, requests: int) -> dict[str, dict[str, list[float]]]:
    server_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mw-bench-overview-") as tmp:
        state_dir = Path(tmp) / "state"
        config = bench_config(state_dir, checks)
        store = await Store.open(f"sqlite+aiosqlite:///{state_dir / 'mailwatch.db'}")
        try:
            host = BenchHost(config, store)
            fill_start = time.perf_counter()
            await fill(host, checks, tickets)
            print(
                f"filled: {checks} checks, {tickets} tickets in "
                f"{time.perf_counter() - fill_start:.1f} s",
                file=sys.stderr,
            )
            # The application ``WebServer`` serves, with a timer around everything it does.
            app = build_app(host)
            app.middlewares.insert(0, timing_middleware(server_s))
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            port = _free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            base = f"http://127.0.0.1:{port}"
            figures: dict[str, dict[str, list[float]]] = {}
            try:
                async with aiohttp.ClientSession(
                    cookie_jar=aiohttp.CookieJar(unsafe=True)
                ) as client:
                    await log_in(client, base)
                    for label, path in (("overview", "/"), ("check page", "/checks/check0000")):
                        for _ in range(5):  # warm-up: imports, statement caches
                            async with client.get(base + path) as answer:
                                await answer.read()
                        server_s.clear()
                        round_trip: list[float] = []
                        for _ in range(requests):
                            start = time.perf_counter()
                            async with client.get(base + path) as answer:
                                body = await answer.read()
                                assert answer.status == 200, answer.status
                            round_trip.append(time.perf_counter() - start)
                        figures[label] = {"server": list(server_s), "round trip": round_trip}
                        if label == "overview":
                            text = body.decode()
                            assert text.count('class="card check"') == checks
                            assert text.count('class="card ticket"') == tickets
                            figures[label]["bytes"] = [float(len(body))]
            finally:
                await runner.cleanup()
        finally:
            await store.close()
    return figures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overview", description=__doc__)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="requests per page (200)")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.checks, args.tickets, args.requests))
    print(f"{args.checks} checks, {args.tickets} open tickets, {args.requests} requests each")
    print("| page | timed | median ms | p95 ms | max ms |")
    print("| --- | --- | --- | --- | --- |")
    for label, kinds in figures.items():
        for kind in ("server", "round trip"):
            values = [v * 1000 for v in kinds[kind]]
            p50, p95 = percentile(values, 50), percentile(values, 95)
            assert p50 is not None and p95 is not None
            print(f"| {label} | {kind} | {p50:.1f} | {p95:.1f} | {max(values):.1f} |")
    size = figures["overview"]["bytes"][0]
    print(f"overview page: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

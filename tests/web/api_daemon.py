"""A real ``mailwatch run`` serving the JSON API on a loopback port, over a store that the
processor filled with a few tickets first, as the daemon would have; and a small client."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.builders import result
from helpers.daemon import DaemonProcess, free_port, wait_for
from mailwatch.config.loader import load_config
from mailwatch.config.secrets import SecretMode
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.store.store import Store

TOKEN = "tok-3b1f7c2e9a4d48e0b5c6d7e8f9a0b1c2"
"""The chatbot's token, given to the daemon in its environment only."""
TOKEN_ENV = "MW_TEST_CHATBOT_TOKEN"

# MW-000001 imap critical, open; MW-000002 mx warning, open; MW-000003 smtp, resolved.
HISTORY = (
    ("imap", State.CRITICAL),
    ("mx", State.WARNING),
    ("smtp", State.CRITICAL),
    ("smtp", State.OK),
)


def config_text(state_dir: Path, port: int) -> str:
    """Tickets open on the first failure under a plan whose severity 1 must be answered
    within 2 h on the wall clock; two checks that never run (a silence may name them)."""
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1

[incidents]
open_after = 1
resolve_after = 1
default_plan = "premium"

[calendars.always]
timezone = "UTC"
hours = "00:00-24:00"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[plans.premium]
calendar = "always"
sev1 = {{ response = "2h", resolution = "8h" }}
sev3 = {{ response = "1d", resolution = "5d" }}

[[checks.resources]]
name = "imap"
enabled = false

[[checks.resources]]
name = "mx"
enabled = false

[web]
listen = "127.0.0.1:{port}"

[web.api_tokens]
chatbot = "env:{TOKEN_ENV}"
"""


def populate(config_file: Path) -> None:
    config = load_config(config_file, secrets=SecretMode.LAZY)  # the token is the daemon's
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    async def run() -> None:
        store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
        try:
            for i, (check, state) in enumerate(HISTORY):
                now = start + timedelta(minutes=i)
                await process_result(store, config, result(state, now, check), now)
        finally:
            await store.close()

    asyncio.run(run())


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class ApiDaemon:
    process: DaemonProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        raw: bytes | None = None,
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return Answer(answer.status, dict(answer.headers), json.loads(answer.read()))
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, dict(exc.headers), json.loads(exc.read()))


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


@contextmanager
def api_daemon(tmp_path: Path) -> Iterator[ApiDaemon]:
    """The daemon, started with ``-v`` so that its log holds every request line."""
    port = free_port()
    process = DaemonProcess(tmp_path, config_text(tmp_path / "state", port), {TOKEN_ENV: TOKEN})
    try:
        populate(process.config)
        process.start("-v")
        wait_for("the web server", lambda: _healthy(f"http://127.0.0.1:{port}/healthz"))
        yield ApiDaemon(process, port)
    finally:
        process.stop()

"""The web application served for tests: ``web.server.WebServer`` on a loopback port over a
real store and config, with the daemon's part (live check records, heartbeat) played by
``PagesHost``. tests/web/test_server.py starts the same server inside a real ``mailwatch run``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from helpers.daemon import free_port
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.nodes import NodeIdentity
from mailwatch.domain.results import CheckResult
from mailwatch.incidents.processor import process_result
from mailwatch.status.build import count_site_votes, read_stored_facts
from mailwatch.status.changes import StatusVersion
from mailwatch.status.live import CheckStatus
from mailwatch.status.model import DaemonInfo, StatusSnapshot, assemble
from mailwatch.store.store import Store
from mailwatch.web.passwords import hash_password
from mailwatch.web.server import WebServer

PASSWORD = "correct horse battery staple"
HASH = hash_password(PASSWORD)
LINK_KEY = "k" * 16 + "9f2c4e6a8b0d1f3e5a7c9b1d"


class PagesHost:
    """What the daemon gives the web application, over a real store: results go through the
    real processor, as the daemon's do."""

    def __init__(self, config: MailwatchConfig, store: Store) -> None:
        self._config = config
        self._store = store
        self.checks: dict[str, CheckStatus] = {}
        self.changes = 0
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
            DaemonInfo("test", 1, now),
            self.checks.values(),
            stored,
            {},
            self._config.maintenance,
            ticket_prefix=self._config.incidents.ticket_prefix,
            votes=count_site_votes(self._config, stored.sites, now),
        )
        self.status_version.observe(snapshot)
        return snapshot

    def changed(self) -> None:
        self.changes += 1

    async def record(self, result: CheckResult, vantage: NodeIdentity | None = None) -> None:
        """``result`` as the daemon takes it; ``vantage``: the node and site that ran it."""
        status = self.checks.setdefault(
            result.check, CheckStatus(result.check, result.kind, result.target)
        )
        status.record(result)
        await process_result(self._store, self._config, result, result.finished_at, vantage=vantage)


ROUND_THE_CLOCK: dict[str, Any] = {
    "calendars": {
        "always": {
            "timezone": "UTC",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "hours": "00:00-24:00",
        }
    },
    "plans": {
        "gold": {
            "calendar": "always",
            **{f"sev{n}": {"response": "4h", "resolution": "1d"} for n in (1, 2, 3, 4)},
        }
    },
    "incidents": {"default_plan": "gold"},
}
"""An SLA plan on every ticket: response due in 4 h, resolution in a day."""


def web_config(
    tmp_path: Path, *, extra: dict[str, Any] | None = None, **web: Any
) -> MailwatchConfig:
    """A config with one roundtrip check ``canary`` (on plan ``gold``), user ``alice`` and
    plain-HTTP cookies; ``extra`` adds sections."""
    section: dict[str, Any] = {
        "listen": "127.0.0.1:1",
        "cookie_secure": False,
        "users": {"alice": {"password_hash": HASH}},
        **web,
    }
    return MailwatchConfig.model_validate(
        {
            "daemon": {"state_dir": str(tmp_path / "state")},
            "checks": {
                "roundtrip": [
                    {
                        "name": "canary",
                        "mail_from": "mw@example.org",
                        "rcpt_to": "canary@example.org",
                        "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
                        "imap": {
                            "host": "127.0.0.1",
                            "tls": "none",
                            "username": "u",
                            "password": "imap-secret-password",
                        },
                    }
                ]
            },
            "web": section,
            **ROUND_THE_CLOCK,
            **(extra or {}),
        }
    )


@asynccontextmanager
async def serving(host: PagesHost) -> AsyncIterator[str]:
    """The server on a free loopback port; yields its base URL."""
    server = WebServer(host)
    port = free_port()
    await server.start("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies for an IP address host (aiohttp's jar refuses by default)
    and does not follow redirects unless asked."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def hidden(html: str, name: str) -> str:
    """The value of the hidden input ``name`` in ``html``."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden {name} in the page"
    return found.group(1)


async def log_in(
    client: aiohttp.ClientSession, base: str, user: str = "alice", password: str = PASSWORD
) -> aiohttp.ClientResponse:
    async with client.get(f"{base}/login") as form:
        nonce = hidden(await form.text(), "nonce")
    async with client.post(
        f"{base}/login",
        data={"nonce": nonce, "user": user, "password": password},
        allow_redirects=False,
    ) as answer:
        await answer.read()
        return answer

"""Shared pieces of the outbox tests: a store on a real SQLite file, configs with routes to real
HTTP receivers, a sender with its jitter pinned, and a receiver that can be down and come back
on the same address."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from helpers.builders import PLANS, T0, config, result
from helpers.http_receiver import HttpReceiver, ReceivedRequest, _Handler, _Server
from helpers.store_engines import sqlite_url
from mailwatch.alerts.sender import OutboxSender
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import State
from mailwatch.incidents.processor import ProcessOutcome, process_result
from mailwatch.store.outbox import OutboxEntry, _entry
from mailwatch.store.schema import outbox
from mailwatch.store.store import Store
from mailwatch.store.tickets import load_timeline

__all__ = ["T0", "seconds"]

SMTP = {"host": "mail.example.org", "tls": "none"}
IMAP = {"host": "mail.example.org", "tls": "none", "username": "u", "password": "p"}


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def roundtrip(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "mail_from": "mw@example.org",
        "rcpt_to": "canary@example.org",
        "smtp": SMTP,
        "imap": IMAP,
        **extra,
    }


@asynccontextmanager
async def open_store(where: Path | str) -> AsyncIterator[Store]:
    """The store at ``where``: a URL (``store_url``, either engine), or a test's ``tmp_path``
    for the SQLite file the daemon would use there."""
    url = where if isinstance(where, str) else sqlite_url(where)
    store = await Store.open(url)
    try:
        yield store
    finally:
        await store.close()


def alert_config(
    routes: dict[str, dict[str, Any]],
    *,
    plan: bool = True,
    checks: Iterable[dict[str, Any]] = (),
    **sections: Any,
) -> MailwatchConfig:
    """Tickets open on the first failure, times show in New York, deadlines from the
    ``premium`` plan (sev1: respond in 1 h, resolve in 4 h)."""
    incidents: dict[str, Any] = {"open_after": 1, "timezone": "America/New_York"}
    if plan:
        incidents["default_plan"] = "premium"
    base: dict[str, Any] = {
        **(PLANS if plan else {}),
        "incidents": incidents | sections.pop("incidents", {}),
        "routes": routes,
        "outbox": {"group_wait_s": 0} | sections.pop("outbox", {}),
        "checks": {"roundtrip": list(checks)},
    }
    return config(**base, **sections)


def sender(store: Store, cfg: MailwatchConfig) -> OutboxSender:
    return OutboxSender(store, lambda: cfg, jitter=lambda: 1.0)


async def fail(
    store: Store, cfg: MailwatchConfig, at: datetime, check: str = "canary"
) -> ProcessOutcome:
    return await process_result(store, cfg, result(State.CRITICAL, at, check), at)


async def recover(
    store: Store, cfg: MailwatchConfig, at: datetime, check: str = "canary"
) -> ProcessOutcome:
    """Two ok results (``resolve_after`` defaults to 2): the ticket resolves."""
    await process_result(store, cfg, result(State.OK, at, check), at)
    later = at + seconds(1)
    return await process_result(store, cfg, result(State.OK, later, check), later)


async def rows(store: Store) -> list[OutboxEntry]:
    async with store.read() as conn:
        return [_entry(r) for r in (await conn.execute(select(outbox).order_by(outbox.c.id)))]


async def timeline_types(store: Store, ticket: int = 1) -> list[str]:
    async with store.read() as conn:
        return [item.event.type.value for item in await load_timeline(conn, ticket)]


async def notification_events(store: Store, ticket: int = 1) -> list[dict[str, Any]]:
    async with store.read() as conn:
        return [
            {"type": item.event.type.value, **item.event.payload}
            for item in await load_timeline(conn, ticket)
            if item.event.type.value.startswith("notification_")
        ]


def titles(requests: Iterable[ReceivedRequest]) -> list[str]:
    return [str(r.json()["title"]) for r in requests]


class ReturningReceiver(HttpReceiver):
    """A receiver on a port chosen up front (``free_port()``): until the block is entered
    nothing listens there, so connections are refused (the receiver is down); then it answers
    on that same address. Built on the helper's server classes."""

    def __init__(self, port: int, **settings: Any) -> None:
        super().__init__(**settings)
        self._server.server_close()  # the helper listens at once; this one waits for __enter__
        self.port = port

    def __enter__(self) -> ReturningReceiver:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-receiver", kwargs={"poll_interval": 0.05}
        )
        super().__enter__()
        return self

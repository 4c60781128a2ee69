"""Watching the watcher: ping an outside dead man's switch while mailwatch is healthy.

If mailwatch dies, hangs or loses its network, the pings stop and the outside service (for
example healthchecks.io, Uptime Kuma's push monitor, or a cron-style monitor) raises the alarm
that mailwatch can no longer raise itself. When mailwatch runs but cannot do its job (the
database refuses writes, alerts pile up in the outbox), it pings the failure URL instead, with
the reason as the body (POST) and wherever the URL says ``{reason}``.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailwatch.store.outbox import oldest_backlog_at
from mailwatch.store.retry import retrying
from mailwatch.store.store import Store

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


async def assess(store: Store, now: datetime, stuck_after_s: float) -> Health:
    """Can mailwatch do its job: write to its store, and get its alerts out?"""

    async def probe() -> datetime | None:
        async with store.write() as conn:
            return await oldest_backlog_at(conn)

    try:
        # A write that lost to another node's concurrent transaction is no sign of trouble:
        # run again (store/retry.py) before calling the store "not writable".
        oldest = await retrying("dead man's switch: store check", probe)
    except Exception as exc:
        return Health(False, f"store not writable: {exc}")
    if oldest is not None and now - oldest > timedelta(seconds=stuck_after_s):
        waited = int((now - oldest).total_seconds() // 60)
        return Health(False, f"alerts stuck: a notification has waited {waited} min in the outbox")
    return Health(True, "ok")


REASON = "{reason}"
"""In a ping URL, replaced by the reason, URL-encoded: ``?status=down&msg={reason}``."""


def ping_url(template: str, reason: str) -> str:
    """``template`` with ``{reason}`` filled in (URL-encoded); other braces stay as they are."""
    return template.replace(REASON, urllib.parse.quote(reason, safe=""))


def _ping(url: str, body: bytes, method: str) -> int:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    with urllib.request.urlopen(request, timeout=PING_TIMEOUT_S) as response:
        return int(response.status)


async def ping(ok_url: str, fail_url: str, health: Health, method: str = "POST") -> bool:
    """Send one ping (``ok_url`` when healthy, else ``fail_url``); False on failure, with a log
    line that leaves the URL out (it holds a token)."""
    target = ping_url(ok_url if health.ok else fail_url, health.reason)
    try:
        status = await asyncio.to_thread(_ping, target, health.reason.encode(), method)
    except OSError as exc:
        log.warning("dead man's switch ping failed: %s", type(exc).__name__)
        return False
    if status >= 300:
        log.warning("dead man's switch answered HTTP %d", status)
        return False
    if not health.ok:
        log.warning("reported unhealthy to the dead man's switch: %s", health.reason)
    return True

"""Watching the watcher: ping an outside dead man's switch while mailwatch is healthy.

If mailwatch dies, hangs or loses its network, the pings stop and the outside service (for
example healthchecks.io, or a cron-style monitor) raises the alarm that mailwatch can no longer
raise itself. When mailwatch runs but cannot do its job (the database refuses writes, alerts
pile up in the outbox), it pings the failure URL instead, with the reason as the body.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailwatch.store.outbox import oldest_backlog_at
from mailwatch.store.store import Store

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


async def assess(store: Store, now: datetime, stuck_after_s: float) -> Health:
    """Can mailwatch do its job: write to its store, and get its alerts out?"""
    try:
        async with store.write() as conn:
            oldest = await oldest_backlog_at(conn)
    except Exception as exc:
        return Health(False, f"store not writable: {exc}")
    if oldest is not None and now - oldest > timedelta(seconds=stuck_after_s):
        waited = int((now - oldest).total_seconds() // 60)
        return Health(False, f"alerts stuck: a notification has waited {waited} min in the outbox")
    return Health(True, "ok")


def _ping(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=PING_TIMEOUT_S) as response:
        return int(response.status)


async def ping(url: str, fail_suffix: str, health: Health) -> bool:
    """Send one ping; False (and a log line without the URL, which holds a token) on failure."""
    target = url if health.ok else url.rstrip("/") + fail_suffix
    try:
        status = await asyncio.to_thread(_ping, target, health.reason.encode())
    except OSError as exc:
        log.warning("dead man's switch ping failed: %s", type(exc).__name__)
        return False
    if status >= 300:
        log.warning("dead man's switch answered HTTP %d", status)
        return False
    if not health.ok:
        log.warning("reported unhealthy to the dead man's switch: %s", health.reason)
    return True

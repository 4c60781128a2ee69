"""This daemon as one node of several sharing one database: its heartbeat and its leases.

Every tick (``lease_s`` / 3, sooner when another node's lease is about to lapse) one write
transaction records the heartbeat, renews the leases this node holds, gives up those beyond
its fair share (the wanted leases divided by the live nodes) and takes free or expired ones up
to it. A check runs only while ``owns`` says so: the lease is held and, by this node's own
clock, has not run out, so a node cut off from the database stops running its checks before
another node may take them. On SIGTERM ``release`` gives every lease up at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from mailwatch import __version__
from mailwatch.domain.errors import StoreError
from mailwatch.domain.nodes import OWNER_SITE, NodeIdentity
from mailwatch.store.nodes import (
    LeaseKey,
    NodeRow,
    acquire,
    all_leases,
    beat,
    live_node_count,
    mark_stopped,
    release,
    renew,
)
from mailwatch.store.outage import unavailable
from mailwatch.store.retry import retrying
from mailwatch.store.store import Store

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

log = logging.getLogger("mailwatch.daemon")

RENEWALS_PER_LEASE = 3
"""A lease is renewed this many times within its ``lease_s``: two renewals can fail (a slow
or briefly unreachable database) before it lapses."""
NEXT_LOOK_MARGIN_S = 0.05
"""How long after another node's lease lapses this node looks again."""

GainHandler = Callable[[set[LeaseKey], set[LeaseKey]], None]
"""Told of the leases newly taken, and which of them lapsed in another node's hands (that
node died: the check is due now)."""
JOIN_ATTEMPTS = 5


def fair_share(wanted: int, live_nodes: int) -> int:
    """The most leases one node takes: the wanted ones spread over the live nodes."""
    return math.ceil(wanted / max(1, live_nodes))


class ClusterNode:
    """Keeps this node's heartbeat and leases. ``wanted`` names the leases the config asks
    for; ``busy`` the checks running now (never given up to balance the load mid-run);
    ``on_gained`` is told of leases newly taken (their memory is read again from the store)."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], MailwatchConfig],
        wanted: Callable[[], Iterable[LeaseKey]],
        *,
        busy: Callable[[], Iterable[str]] = lambda: (),
        on_gained: GainHandler = lambda _keys, _lapsed: None,
    ) -> None:
        self._store = store
        self._config = config
        self._wanted = wanted
        self._busy = busy
        self._on_gained = on_gained
        self._started_at = datetime.now(UTC)
        self._held: dict[LeaseKey, float] = {}
        """Lease → ``loop.time()`` by which it surely still holds (it was renewed before)."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._ticks = 0

    @property
    def identity(self) -> NodeIdentity:
        return self._config().node.identity

    def owns(self, check: str, site: str = OWNER_SITE) -> bool:
        """Whether this node may run ``check`` (for ``site``) now."""
        until = self._held.get((check, site))
        return until is not None and until > asyncio.get_running_loop().time()

    @property
    def held(self) -> set[LeaseKey]:
        now = asyncio.get_running_loop().time()
        return {key for key, until in self._held.items() if until > now}

    def wake(self) -> None:
        """Look again now (a reload changed the wanted leases)."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            lease_s = self._config().node.lease_s
            delay_s = lease_s / RENEWALS_PER_LEASE
            try:
                next_lapse_s = await self.tick()
            except Exception as exc:
                # The database is away: keep the leases until they run out by our clock,
                # then stop running those checks; another node may have them by then. The
                # store tells an outage once; anything else is told here.
                if not unavailable(exc):
                    log.error("node heartbeat and leases not written: %s", exc)
            else:
                if next_lapse_s is not None:
                    delay_s = min(delay_s, max(0.0, next_lapse_s) + NEXT_LOOK_MARGIN_S)
            try:
                async with asyncio.timeout(delay_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def join(self) -> None:
        """The first tick, before the first runs fall due; nodes starting together may collide
        on PostgreSQL (a serialization failure), so it is tried again a few times, jittered.
        Failing still, the node starts holding nothing and ``run`` keeps trying."""
        for attempt in range(JOIN_ATTEMPTS):
            try:
                await self.tick()
                return
            except StoreError as exc:
                if attempt == JOIN_ATTEMPTS - 1:
                    log.error("node heartbeat and leases not written: %s", exc)
                    return
                await asyncio.sleep(random.uniform(0.05, 0.3) * (attempt + 1))

    async def tick(self) -> float | None:
        """One heartbeat and one pass over the leases; seconds until the first lease another
        node holds (of those this node could take) lapses, or None."""
        config = self._config()
        me = config.node.identity
        lease_s = config.node.lease_s
        started = asyncio.get_running_loop().time()
        now = datetime.now(UTC)
        until = now + timedelta(seconds=lease_s)
        wanted = set(self._wanted())
        gained: set[LeaseKey] = set()
        lapsed: set[LeaseKey] = set()
        shed: list[LeaseKey] = []
        unwanted: list[LeaseKey] = []
        next_lapse: datetime | None = None
        before: NodeRow | None = None

        async def transaction() -> set[LeaseKey]:
            nonlocal shed, unwanted, next_lapse, before
            # Fresh each attempt: a transaction run again must not keep the last one's picks.
            gained.clear()
            lapsed.clear()
            shed, unwanted, next_lapse = [], [], None
            async with self._store.write() as conn:
                before = await beat(conn, me, __version__, os.getpid(), self._started_at, now)
                held = await renew(conn, me.name, wanted, until, now)
                rows = await all_leases(conn)
                unwanted = [
                    (r.check, r.site)
                    for r in rows
                    if r.owner == me.name and (r.check, r.site) not in wanted
                ]
                await release(conn, me.name, unwanted)
                share = fair_share(len(wanted), await live_node_count(conn, now, lease_s))
                if len(held) > share:
                    running = set(self._busy())
                    spare = sorted(key for key in held if key[0] not in running)
                    shed = spare[: len(held) - share]
                    await release(conn, me.name, shed)
                    held -= set(shed)
                taken = {(r.check, r.site): r for r in rows if r.expires_at > now}
                lapsed.update(
                    (r.check, r.site) for r in rows if r.expires_at <= now and r.owner != me.name
                )
                free = [key for key in wanted - held if key not in taken]
                # In random order: nodes starting together do not all try the same ones first.
                random.shuffle(free)
                for key in free:
                    if len(held) >= share:
                        break
                    if await acquire(conn, me.name, key, until, now):
                        held.add(key)
                        gained.add(key)
                if len(held) < share:
                    lapses = [
                        r.expires_at for k, r in taken.items() if k in wanted and k not in held
                    ]
                    next_lapse = min(lapses, default=None)
            return held

        held = await retrying(f"node {me.name}: heartbeat and leases", transaction)
        if before is not None and self._ticks > 0:
            # After the first beat the row is ours: another process wrote it since.
            log.error(
                "another node named %s (pid %d, started %s) writes this database: give each "
                "node its own [node] name",
                me.name,
                before.pid,
                before.started_at.isoformat(timespec="seconds"),
            )
        self._ticks += 1
        lost = set(self._held) - held
        self._held = {key: started + lease_s for key in held}
        if gained:
            log.info("node %s took over %s", me.name, _names(gained))
            self._on_gained(gained, gained & lapsed)
        if shed:
            log.info("node %s handed over %s to balance the load", me.name, _names(set(shed)))
        taken_away = lost - set(shed) - set(unwanted)
        if taken_away:
            log.warning("node %s lost %s to another node", me.name, _names(taken_away))
        return None if next_lapse is None else (next_lapse - now).total_seconds()

    async def release(self, keep: set[str] | None = None) -> None:
        """Give every lease up (but those of the checks in ``keep``, still running) and mark
        the node stopped (SIGTERM): the other nodes take the checks over at their next look
        instead of after the leases lapse."""
        self._stopping = True
        self._wake.set()
        me = self._config().node.identity
        given_up = [key for key in self._held if keep is None or key[0] not in keep]
        for key in given_up:
            self._held.pop(key, None)
        try:
            async with self._store.write() as conn:
                if keep is None:
                    given = await release(conn, me.name)
                else:
                    given = await release(conn, me.name, given_up)
                await mark_stopped(conn, me.name, datetime.now(UTC))
        except Exception as exc:
            log.error("leases not given up (they lapse after lease_s): %s", exc)
            return
        if given:
            log.info("node %s gave up %d lease(s)", me.name, given)


def _names(keys: set[LeaseKey]) -> str:
    shown = sorted(f"{check}@{site}" if site else check for check, site in keys)
    more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
    return ", ".join(shown[:10]) + more

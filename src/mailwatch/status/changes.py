"""The status model's version: a number that moves when something a person acts on changes
(a check's state, stage or marks, a ticket's state, acknowledgement or clocks), so that a
page watching the daemon fetches itself again only then.

Summaries and figures are left out on purpose: a healthy canary's summary carries its
latency, which changes with every run, and a page re-rendered for each of 1,000 routes a
minute would cost more than the daemon's probes (docs/web.md, "Live updates").
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

from mailwatch.status.model import StatusSnapshot


def fingerprint(snapshot: StatusSnapshot) -> Hashable:
    """What of ``snapshot`` the pages' live updates follow; equal when nothing of it moved."""
    checks = tuple(
        (
            c.name,
            c.state,
            c.stage,
            c.flapping,
            c.silenced_until,
            None if c.vote is None else (c.vote.quorum, c.vote.sites_failing, c.vote.below_quorum),
        )
        for c in snapshot.checks
    )
    tickets = tuple(
        (
            t.id,
            t.severity,
            t.state,
            t.acknowledged_by,
            t.response_due,
            t.resolution_due,
            t.escalation_step,
        )
        for t in snapshot.tickets
    )
    return (snapshot.overall, checks, tickets)


class StatusVersion:
    """The version number, moved by ``observe`` when a snapshot differs from the last one
    observed; ``wait_past`` lets any number of watchers wait for the next move."""

    def __init__(self) -> None:
        self.number = 0
        self._last: Hashable = None
        self._moved = asyncio.Event()
        self.watchers = 0
        """How many are waiting on the version now (the pages' open live streams)."""
        self._watched = asyncio.Event()

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Count a watcher while the block runs: the daemon looks at the store for changes
        made elsewhere only while someone watches."""
        self.watchers += 1
        self._watched.set()
        try:
            yield
        finally:
            self.watchers -= 1
            if self.watchers == 0:
                self._watched.clear()

    async def wait_watched(self) -> None:
        """Return once at least one watcher is counted."""
        await self._watched.wait()

    def observe(self, snapshot: StatusSnapshot) -> bool:
        """Take a fresh snapshot; True when it moved the version."""
        seen = fingerprint(snapshot)
        if seen == self._last:
            return False
        self._last = seen
        self.number += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
        return True

    async def wait_past(self, seen: int, timeout_s: float) -> int:
        """The version once it is no longer ``seen``, or ``seen`` after ``timeout_s``."""
        if self.number != seen:
            return self.number
        moved = self._moved
        try:
            async with asyncio.timeout(timeout_s):
                await moved.wait()
        except TimeoutError:
            pass
        return self.number

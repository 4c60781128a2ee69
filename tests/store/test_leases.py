"""Leases on both engines: one owner per (check, site), taken only when free or lapsed, renewed
only by their owner, given up at once; a check's memory read back by the next owner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from mailwatch.domain.errors import StoreError
from mailwatch.domain.nodes import OWNER_SITE, NodeIdentity
from mailwatch.store.memory import load_memory, save_memory
from mailwatch.store.nodes import (
    acquire,
    all_leases,
    all_nodes,
    beat,
    holds,
    live_node_count,
    mark_stopped,
    release,
    renew,
)
from mailwatch.store.store import Store

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
KEY = ("canary-main", OWNER_SITE)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_free_lease_goes_to_the_first_node_and_stays_until_it_lapses(store: Store) -> None:
    async with store.write() as conn:
        assert await acquire(conn, "mon-a", KEY, T0 + LEASE, T0)
        assert not await acquire(conn, "mon-b", KEY, T0 + LEASE, T0 + timedelta(seconds=29))
        assert await holds(conn, "mon-a", KEY)
    later = T0 + LEASE + timedelta(seconds=1)
    async with store.write() as conn:
        # mon-a stopped renewing: at the lapse mon-b takes it, and mon-a cannot renew it back.
        assert await acquire(conn, "mon-b", KEY, later + LEASE, later)
        assert await renew(conn, "mon-a", [KEY], later + LEASE, later) == set()
        assert await renew(conn, "mon-b", [KEY], later + LEASE, later) == {KEY}
        assert not await holds(conn, "mon-a", KEY)
        assert [(lease.owner, lease.expires_at) for lease in await all_leases(conn)] == [
            ("mon-b", later + LEASE)
        ]


async def test_nodes_racing_for_one_lease_get_one_owner(store_url: str) -> None:
    """Three stores (three connections pools, as three nodes have) race for the same leases."""
    stores = [await Store.open(store_url) for _ in range(3)]
    keys = [(f"check-{i}", OWNER_SITE) for i in range(20)]

    async def take(store: Store, name: str, key: tuple[str, str]) -> bool:
        # PostgreSQL refuses one of two transactions updating one row at once ("could not
        # serialize"); the loser tries again, and then finds the lease taken.
        for _ in range(20):
            try:
                async with store.write() as conn:
                    return await acquire(conn, name, key, T0 + LEASE, T0)
            except StoreError as exc:
                assert "serialize" in str(exc), exc
        raise AssertionError(f"{name} never got an answer for {key}")

    async def take_all(store: Store, name: str) -> set[tuple[str, str]]:
        return {key for key in keys if await take(store, name, key)}

    try:
        won = await asyncio.gather(
            *(take_all(s, f"mon-{n}") for s, n in zip(stores, "abc", strict=True))
        )
    finally:
        for opened in stores:
            await opened.close()
    assert sum(len(w) for w in won) == len(keys)
    assert set().union(*won) == set(keys)


async def test_release_gives_leases_up_at_once(store: Store) -> None:
    other = ("mx-example", OWNER_SITE)
    async with store.write() as conn:
        await acquire(conn, "mon-a", KEY, T0 + LEASE, T0)
        await acquire(conn, "mon-a", other, T0 + LEASE, T0)
        assert await release(conn, "mon-a", [other]) == 1
        assert await acquire(conn, "mon-b", other, T0 + LEASE, T0)
        assert await release(conn, "mon-a") == 1
        assert await acquire(conn, "mon-b", KEY, T0 + LEASE, T0)


async def test_one_check_has_a_lease_per_site(store: Store) -> None:
    async with store.write() as conn:
        assert await acquire(conn, "mon-a", ("canary", "dc1"), T0 + LEASE, T0)
        assert await acquire(conn, "mon-b", ("canary", "dc2"), T0 + LEASE, T0)
        assert not await acquire(conn, "mon-c", ("canary", "dc2"), T0 + LEASE, T0)


async def test_heartbeats_count_live_nodes_and_a_clean_stop(store: Store) -> None:
    async with store.write() as conn:
        await beat(conn, NodeIdentity("mon-a", "dc1"), "1.0", 10, T0, T0)
        await beat(conn, NodeIdentity("mon-b", "dc2"), "1.0", 11, T0, T0)
        await beat(conn, NodeIdentity("mon-a", "dc1"), "1.0", 10, T0, T0 + timedelta(seconds=20))
        assert await live_node_count(conn, T0 + timedelta(seconds=25), 30) == 2
        # mon-b's last beat is 40 s old: dead.
        assert await live_node_count(conn, T0 + timedelta(seconds=40), 30) == 1
        await mark_stopped(conn, "mon-a", T0 + timedelta(seconds=41))
        assert await live_node_count(conn, T0 + timedelta(seconds=41), 30) == 0
        found = {n.name: (n.site, n.pid, n.stopped_at) for n in await all_nodes(conn)}
    assert found == {
        "mon-a": ("dc1", 10, T0 + timedelta(seconds=41)),
        "mon-b": ("dc2", 11, None),
    }


async def test_memory_is_read_back_as_written(store: Store) -> None:
    memory = {
        "healthy_latencies_s": [0.4, 0.6, 0.5],
        "pending_canaries": ["0" * 32],
        "missing_canary": "check=canary-main; id=" + "0" * 32 + "; sent=2026-12-07T12:00:00+00:00",
    }
    async with store.write() as conn:
        assert await load_memory(conn, KEY) is None
        await save_memory(conn, KEY, memory, "mon-a", T0)
        await save_memory(conn, KEY, {**memory, "healthy_latencies_s": [0.4]}, "mon-a", T0)
    async with store.read() as conn:
        assert await load_memory(conn, KEY) == {**memory, "healthy_latencies_s": [0.4]}

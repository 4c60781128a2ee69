"""Nodes sharing one database: their heartbeats, and the leases that give each check one owner.

A lease is a row (check, site) naming its owner node until ``expires_at``. Taking one is a
compare-and-set: an UPDATE that matches only an expired row, or an INSERT that does nothing
when the row exists; the row count says whether this node won, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Executable, Table, and_, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.nodes import NodeIdentity
from mailwatch.store.schema import leases, nodes

LeaseKey = tuple[str, str]
"""(check name, site): ``domain.nodes.OWNER_SITE`` for a check with one owner in the cluster."""


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    site: str
    version: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


@dataclass(frozen=True, slots=True)
class LeaseRow:
    check: str
    site: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


async def beat(
    conn: AsyncConnection,
    node: NodeIdentity,
    version: str,
    pid: int,
    started_at: datetime,
    now: datetime,
) -> NodeRow | None:
    """Record that ``node`` is alive at ``now`` (its row is created on the first beat); the
    row as it was when another process (another pid or start) wrote it last, else None."""
    found = (await conn.execute(select(nodes).where(nodes.c.name == node.name))).first()
    before = None
    if found is not None and (found.pid, found.started_at) != (pid, started_at):
        before = NodeRow(
            found.name,
            found.site,
            found.version,
            found.pid,
            found.started_at,
            found.heartbeat_at,
            found.stopped_at,
        )
    values = {
        "site": node.site,
        "version": version,
        "pid": pid,
        "started_at": started_at,
        "heartbeat_at": now,
        "stopped_at": None,
    }
    changed = await conn.execute(update(nodes).where(nodes.c.name == node.name).values(**values))
    if changed.rowcount == 0:
        await conn.execute(
            _insert_ignoring_conflict(conn, nodes, ["name"], name=node.name, **values)
        )
    return before


async def mark_stopped(conn: AsyncConnection, name: str, now: datetime) -> None:
    """``name`` stopped cleanly at ``now`` (SIGTERM): not dead, just gone."""
    await conn.execute(
        update(nodes).where(nodes.c.name == name).values(stopped_at=now, heartbeat_at=now)
    )


async def all_nodes(conn: AsyncConnection) -> list[NodeRow]:
    rows = (await conn.execute(select(nodes).order_by(nodes.c.site, nodes.c.name))).all()
    return [
        NodeRow(r.name, r.site, r.version, r.pid, r.started_at, r.heartbeat_at, r.stopped_at)
        for r in rows
    ]


async def live_node_count(conn: AsyncConnection, now: datetime, lease_s: float) -> int:
    """Nodes that beat within the last ``lease_s`` and did not stop."""
    since = now - timedelta(seconds=lease_s)
    rows = await conn.execute(
        select(nodes.c.name).where(nodes.c.heartbeat_at > since, nodes.c.stopped_at.is_(None))
    )
    return len(rows.all())


async def all_leases(conn: AsyncConnection) -> list[LeaseRow]:
    rows = (await conn.execute(select(leases).order_by(leases.c.owner, leases.c.check_name))).all()
    return [LeaseRow(r.check_name, r.site, r.owner, r.acquired_at, r.expires_at) for r in rows]


async def renew(
    conn: AsyncConnection, owner: str, keys: Iterable[LeaseKey], until: datetime, now: datetime
) -> set[LeaseKey]:
    """Extend ``owner``'s unexpired leases among ``keys`` to ``until``; the keys it still holds.
    One it held that another node took after it expired is not among them."""
    wanted = set(keys)
    rows = await conn.execute(
        select(leases.c.check_name, leases.c.site).where(
            leases.c.owner == owner, leases.c.expires_at > now
        )
    )
    held = {(str(c), str(s)) for c, s in rows.all()} & wanted
    if held:
        await conn.execute(
            update(leases)
            .where(
                leases.c.owner == owner,
                leases.c.expires_at > now,
                tuple_(leases.c.check_name, leases.c.site).in_(sorted(held)),
            )
            .values(expires_at=until)
        )
    return held


async def acquire(
    conn: AsyncConnection, owner: str, key: LeaseKey, until: datetime, now: datetime
) -> bool:
    """Take ``key`` for ``owner`` until ``until`` if nobody holds it (no row, or an expired
    one); True when this node now holds it."""
    check, site = key
    taken = await conn.execute(
        update(leases)
        .where(
            leases.c.check_name == check,
            leases.c.site == site,
            leases.c.expires_at <= now,
        )
        .values(owner=owner, acquired_at=now, expires_at=until)
    )
    if taken.rowcount == 1:
        return True
    created = await conn.execute(
        _insert_ignoring_conflict(
            conn,
            leases,
            ["check_name", "site"],
            check_name=check,
            site=site,
            owner=owner,
            acquired_at=now,
            expires_at=until,
        )
    )
    return bool(created.rowcount == 1)


async def foreign_expiries(
    conn: AsyncConnection, owner: str, keys: Iterable[LeaseKey]
) -> list[datetime]:
    """When the leases other nodes hold among ``keys`` expire: the moments worth looking again."""
    wanted = set(keys)
    rows = await conn.execute(
        select(leases.c.check_name, leases.c.site, leases.c.expires_at).where(
            leases.c.owner != owner
        )
    )
    return [expires for check, site, expires in rows.all() if (check, site) in wanted]


async def release(conn: AsyncConnection, owner: str, keys: Sequence[LeaseKey] | None = None) -> int:
    """Give up ``owner``'s leases (all of them, or ``keys``) at once, so another node takes
    them over at its next look; how many were given up."""
    where = [leases.c.owner == owner]
    if keys is not None:
        if not keys:
            return 0
        where.append(tuple_(leases.c.check_name, leases.c.site).in_(sorted(keys)))
    gone = await conn.execute(delete(leases).where(and_(*where)))
    return int(gone.rowcount)


async def holds(conn: AsyncConnection, owner: str, key: LeaseKey) -> bool:
    """Whether ``owner`` is the lease's owner of record (expired or not: nobody else took it)."""
    check, site = key
    found = await conn.execute(
        select(leases.c.owner).where(leases.c.check_name == check, leases.c.site == site)
    )
    return found.scalar_one_or_none() == owner


def _insert_ignoring_conflict(
    conn: AsyncConnection, table: Table, keys: list[str], **values: object
) -> Executable:
    """``INSERT ... ON CONFLICT DO NOTHING``: a row count of 0 means another node was first.
    The one statement that differs by dialect; both spell it the same way in SQLAlchemy."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement: Executable = (
        dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    )
    return statement

"""A ticket's evidence records (``domain.evidence``), and the reads of kept results that a
root-cause pack needs: a key's latest result, the first failure of its current streak, and
some checks' results over a window."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.evidence import Evidence, EvidenceKind
from mailwatch.domain.results import CheckResult, State
from mailwatch.store.schema import check_results, ticket_evidence


async def insert_evidence(conn: AsyncConnection, records: Sequence[Evidence]) -> None:
    """Store ``records`` in the caller's transaction."""
    if not records:
        return
    await conn.execute(
        insert(ticket_evidence),
        [
            {
                "ticket": r.ticket,
                "recorded_at": r.recorded_at,
                "kind": r.kind.value,
                "check_name": r.check,
                "data": dict(r.data),
            }
            for r in records
        ],
    )


async def load_evidence(conn: AsyncConnection, ticket: int) -> list[Evidence]:
    """Ticket ``ticket``'s records, in the order they were written."""
    rows = await conn.execute(
        select(ticket_evidence)
        .where(ticket_evidence.c.ticket == ticket)
        .order_by(ticket_evidence.c.id)
    )
    return [
        Evidence(r.ticket, r.recorded_at, EvidenceKind(r.kind), r.check_name, r.data) for r in rows
    ]


async def latest_result(conn: AsyncConnection, key: str) -> CheckResult | None:
    """The newest kept result of dedup key ``key``."""
    row = (
        await conn.execute(
            select(check_results)
            .where(check_results.c.dedup_key == key)
            .order_by(check_results.c.id.desc())
            .limit(1)
        )
    ).first()
    return _result(row) if row is not None else None


async def first_failure(conn: AsyncConnection, key: str) -> CheckResult | None:
    """The oldest kept failing result of ``key`` since its last ok one: where its current
    streak of failures began (None when its newest result is ok or none is kept)."""
    last_ok = (
        select(func.max(check_results.c.id))
        .where(check_results.c.dedup_key == key, check_results.c.state == int(State.OK))
        .scalar_subquery()
    )
    row = (
        await conn.execute(
            select(check_results)
            .where(
                check_results.c.dedup_key == key,
                check_results.c.id > func.coalesce(last_ok, 0),
            )
            .order_by(check_results.c.id)
            .limit(1)
        )
    ).first()
    return _result(row) if row is not None else None


async def results_between(
    conn: AsyncConnection,
    keys: Iterable[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> list[CheckResult]:
    """The kept results of dedup keys ``keys`` that finished in [start, end], oldest first,
    at most ``limit`` (the newest of them when there are more)."""
    wanted = list(keys)
    if not wanted:
        return []
    rows = await conn.execute(
        select(check_results)
        .where(
            check_results.c.dedup_key.in_(wanted),
            check_results.c.finished_at >= start,
            check_results.c.finished_at <= end,
        )
        .order_by(check_results.c.id.desc())
        .limit(limit)
    )
    return [_result(row) for row in reversed(rows.all())]


def _result(row: Row[Any]) -> CheckResult:
    return CheckResult(
        check=row.check_name,
        kind=row.kind,
        target=row.target,
        state=State(row.state),
        summary=row.summary,
        started_at=row.started_at,
        finished_at=row.finished_at,
        stage=row.stage,
        metrics=dict(row.metrics),
        details=dict(row.details),
    )

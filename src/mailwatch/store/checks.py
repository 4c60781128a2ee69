"""Check results (bounded per dedup key) and the engine's state per dedup key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.checkstate import CheckState
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket
from mailwatch.domain.time import parse_instant
from mailwatch.store.schema import check_results, check_states

_INSERT_RESULT = insert(check_results).returning(check_results.c.id)
# Statements built once, values bound at execute: building a statement per result (and its
# cache key) was most of the Python a result cost a daemon with 1,000 routes.
_PRUNE_RESULTS = delete(check_results).where(
    check_results.c.dedup_key == bindparam("key"),
    check_results.c.id
    <= (
        select(check_results.c.id)
        .where(check_results.c.dedup_key == bindparam("key"))
        .order_by(check_results.c.id.desc())
        .offset(bindparam("retention"))
        .limit(1)
        .scalar_subquery()
    ),
)
_PREVIOUS = check_results.alias("previous")
_LOAD_STATE = select(check_states.c.state).where(check_states.c.dedup_key == bindparam("key"))
_UPDATE_STATE = (
    update(check_states)
    .where(check_states.c.dedup_key == bindparam("key"))
    .values(
        check_name=bindparam("check_name"),
        target=bindparam("target"),
        state=bindparam("state"),
        updated_at=bindparam("updated_at"),
        last_result_id=func.coalesce(
            bindparam("result_id", type_=Integer), check_states.c.last_result_id
        ),
        # A result whose state or stage differs from the one shown so far (or with nothing
        # shown to compare: none yet, or pruned already) marks the row changed. With
        # ``result_retention = 1`` the previous result is pruned before this compares, so
        # every result counts: a watching daemon then snapshots each second (docs/web.md).
        changed_result_id=case(
            (
                and_(
                    bindparam("result_id", type_=Integer).is_not(None),
                    ~exists().where(
                        _PREVIOUS.c.id == check_states.c.last_result_id,
                        _PREVIOUS.c.state == bindparam("shown_state", type_=Integer),
                        _PREVIOUS.c.stage.is_not_distinct_from(
                            bindparam("shown_stage", type_=String)
                        ),
                    ),
                ),
                bindparam("result_id", type_=Integer),
            ),
            else_=check_states.c.changed_result_id,
        ),
    )
)


async def insert_result(
    conn: AsyncConnection,
    result: CheckResult,
    key: str,
    now: datetime,
    retention: int,
    node: str | None = None,
    site: str | None = None,
) -> int:
    """Record a result (run by ``node`` at ``site``, when the daemon ran it) and drop the
    key's results
    beyond the newest ``retention``; its id.

    The prune is one indexed lookup of the oldest id to keep, so it costs the same however
    long the daemon has run.
    """
    row = await conn.execute(
        _INSERT_RESULT,
        {
            "dedup_key": key,
            "check_name": result.check,
            "target": result.target,
            "kind": result.kind,
            "state": int(result.state),
            "stage": result.stage,
            "summary": result.summary,
            "metrics": dict(result.metrics),
            "details": dict(result.details),
            "started_at": result.started_at,
            "finished_at": result.finished_at,
            "recorded_at": now,
            "node": node,
            "site": site,
        },
    )
    result_id = int(row.scalar_one())
    await conn.execute(_PRUNE_RESULTS, {"key": key, "retention": retention})
    return result_id


@dataclass(frozen=True, slots=True)
class RecentResult:
    """A stored result as a check's page lists it."""

    state: State
    stage: str | None
    summary: str
    metrics: dict[str, float]
    finished_at: datetime
    node: str | None
    site: str | None


_RECENT = (
    select(
        check_results.c.state,
        check_results.c.stage,
        check_results.c.summary,
        check_results.c.metrics,
        check_results.c.finished_at,
        check_results.c.node,
        check_results.c.site,
    )
    .where(check_results.c.dedup_key == bindparam("key"))
    .order_by(check_results.c.id.desc())
    .limit(bindparam("limit"))
)


async def recent_results(conn: AsyncConnection, key: str, limit: int) -> list[RecentResult]:
    """The newest ``limit`` results of ``key``, newest first (one indexed range read)."""
    rows = await conn.execute(_RECENT, {"key": key, "limit": limit})
    return [
        RecentResult(
            state=State(row.state),
            stage=row.stage,
            summary=row.summary,
            metrics={
                str(k): float(v)
                for k, v in (row.metrics or {}).items()
                if isinstance(v, int | float)
            },
            finished_at=row.finished_at,
            node=row.node,
            site=row.site,
        )
        for row in rows
    ]


async def load_state(
    conn: AsyncConnection, key: str, check: str, target: str, ticket: Ticket | None
) -> CheckState | None:
    """The stored state of ``key`` with its open ticket, or None for a key never seen."""
    text = (await conn.execute(_LOAD_STATE, {"key": key})).scalar_one_or_none()
    if text is None:
        return None
    return CheckState.from_json(key, check, target, text, ticket)


async def save_state(
    conn: AsyncConnection,
    state: CheckState,
    now: datetime,
    result_id: int | None,
    result: CheckResult | None = None,
) -> None:
    """Insert or update the state row (the caller holds the write lock, so no race);
    ``result`` is the one stored as ``result_id``, which the pages show from now on."""
    values: dict[str, Any] = {
        "check_name": state.check,
        "target": state.target,
        "state": state.to_json(),
        "updated_at": now,
    }
    shown = {
        "shown_state": None if result is None else int(result.state),
        "shown_stage": None if result is None else result.stage,
    }
    updated = await conn.execute(
        _UPDATE_STATE, {"key": state.dedup_key, "result_id": result_id, **shown, **values}
    )
    if updated.rowcount == 0:
        if result_id is not None:
            values["last_result_id"] = result_id
            values["changed_result_id"] = result_id
        await conn.execute(insert(check_states).values(dedup_key=state.dedup_key, **values))


@dataclass(frozen=True, slots=True)
class LatestResult:
    """A check's last result as the cluster stored it, with the node and site that ran it,
    and what the engine's state says of it (flapping, failing since)."""

    result: CheckResult
    result_id: int
    node: str | None
    site: str | None
    flapping: bool
    failing_since: datetime | None


_LATEST = select(
    check_results.c.id,
    check_results.c.check_name,
    check_results.c.target,
    check_results.c.kind,
    check_results.c.state,
    check_results.c.stage,
    check_results.c.summary,
    check_results.c.metrics,
    check_results.c.started_at,
    check_results.c.finished_at,
    check_results.c.node,
    check_results.c.site,
    check_states.c.state.label("engine"),
).join(check_results, check_results.c.id == check_states.c.last_result_id)


async def latest_results(conn: AsyncConnection) -> dict[tuple[str, str], LatestResult]:
    """Every check's last result the engine counted, by (check, target): one query, an
    indexed join of the state rows to their last result, whichever node ran it."""
    found = {}
    for row in await conn.execute(_LATEST):
        engine = json.loads(row.engine)
        found[(row.check_name, row.target)] = LatestResult(
            result=CheckResult(
                check=row.check_name,
                kind=row.kind,
                target=row.target,
                state=State(row.state),
                summary=row.summary,
                started_at=row.started_at,
                finished_at=row.finished_at,
                stage=row.stage,
                metrics=row.metrics,
            ),
            result_id=row.id,
            node=row.node,
            site=row.site,
            flapping=bool(engine.get("flapping", False)),
            failing_since=parse_instant(engine.get("failing_since")),
        )
    return found

"""Each site's latest state of a check run from several sites (``run_from``): read for the
vote and the status, written with every result of such a check."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwatch.domain.results import State
from mailwatch.domain.sites import SiteState
from mailwatch.store.schema import site_states

_LOAD = select(site_states).where(site_states.c.dedup_key == bindparam("key"))
_UPDATE = (
    update(site_states)
    .where(site_states.c.dedup_key == bindparam("key"), site_states.c.site == bindparam("at"))
    .values(
        node=bindparam("node"),
        state=bindparam("state"),
        stage=bindparam("stage"),
        summary=bindparam("summary"),
        bad_streak=bindparam("bad_streak"),
        good_streak=bindparam("good_streak"),
        failing_since=bindparam("failing_since"),
        result_at=bindparam("result_at"),
        result_id=bindparam("result_id"),
    )
)


def _site(row: Row[tuple[object, ...]]) -> SiteState:
    values = row._mapping
    return SiteState(
        site=values["site"],
        state=State(values["state"]),
        summary=values["summary"],
        stage=values["stage"],
        bad_streak=values["bad_streak"],
        good_streak=values["good_streak"],
        failing_since=values["failing_since"],
        result_at=values["result_at"],
        node=values["node"],
    )


async def load_sites(conn: AsyncConnection, key: str) -> dict[str, SiteState]:
    """Every site's state of dedup key ``key``, by site."""
    rows = await conn.execute(_LOAD, {"key": key})
    return {state.site: state for state in map(_site, rows)}


async def sites_by_check(
    conn: AsyncConnection, checks: Iterable[str] | None = None
) -> dict[str, list[SiteState]]:
    """The site states of every voting check (or of ``checks``), by check name."""
    query = select(site_states).order_by(site_states.c.check_name, site_states.c.site)
    if checks is not None:
        query = query.where(site_states.c.check_name.in_(list(checks)))
    found: dict[str, list[SiteState]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.check_name, []).append(_site(row))
    return found


async def save_site(
    conn: AsyncConnection, key: str, check: str, state: SiteState, result_id: int | None
) -> None:
    """Insert or update one site's state of ``key`` (inside the caller's transaction)."""
    values = {
        "node": state.node,
        "state": int(state.state),
        "stage": state.stage,
        "summary": state.summary,
        "bad_streak": state.bad_streak,
        "good_streak": state.good_streak,
        "failing_since": state.failing_since,
        "result_at": state.result_at,
        "result_id": result_id,
    }
    updated = await conn.execute(_UPDATE, {"key": key, "at": state.site, **values})
    if updated.rowcount == 0:
        await conn.execute(
            insert(site_states).values(dedup_key=key, site=state.site, check_name=check, **values)
        )

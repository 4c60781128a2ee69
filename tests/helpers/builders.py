"""Results, policies and configs for incident tests, and a check that a store is consistent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from helpers.oracles import replay, replayable
from helpers.store_queries import all_tickets, integrity_problems
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import CheckResult, State
from mailwatch.store.schema import check_results, check_states, ticket_counter, ticket_events
from mailwatch.store.store import Store
from mailwatch.store.tickets import load_timeline

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
"""A Monday, 10:00 in New York: inside business hours of the example calendars."""

STAGES = {
    State.OK: None,
    State.WARNING: "slow",
    State.CRITICAL: "not_delivered",
    State.UNKNOWN: "imap_protocol",
}


def result(
    state: State,
    at: datetime = T0,
    check: str = "canary",
    *,
    kind: str = "roundtrip",
    target: str | None = None,
    stage: str | None = "",
    summary: str | None = None,
    metrics: Mapping[str, float] | None = None,
) -> CheckResult:
    """A result; ``stage=""`` picks a typical stage for the state."""
    chosen = STAGES[state] if stage == "" else stage
    return CheckResult(
        check=check,
        kind=kind,
        target=target if target is not None else check,
        state=state,
        summary=summary or f"{check} is {state.label}",
        started_at=at - timedelta(seconds=1),
        finished_at=at,
        stage=chosen,
        metrics=dict(metrics or {}),
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def config(**sections: Any) -> MailwatchConfig:
    return MailwatchConfig.model_validate(sections)


PLANS: dict[str, Any] = {
    "calendars": {
        "us-eastern": {"timezone": "America/New_York", "hours": "09:00-17:00"},
    },
    "plans": {
        "premium": {
            "calendar": "us-eastern",
            "sev1": {"response": "1h", "resolution": "4h"},
            "sev2": {"response": "4h", "resolution": "1bd"},
            "sev3": {"response": "1bd"},
        }
    },
}


async def assert_consistent(store: Store, *, retention_pruned: bool = False) -> dict[str, int]:
    """Everything a crash or a bug could break, checked on the stored data.

    - SQLite's own integrity check passes (on SQLite);
    - every ticket equals the replay of its timeline;
    - at most one open ticket per dedup key; the counter is at or past every number;
    - each check state names the newest result of its key and has counted exactly the
      results stored (unless retention pruned some): result row and state were written
      together;
    - every event that names a result points at a stored one.
    """
    assert await integrity_problems(store) == []
    async with store.read() as conn:
        tickets = await all_tickets(conn)
        for ticket in tickets:
            timeline = [item.event for item in await load_timeline(conn, ticket.number)]
            assert replayable(replay(timeline)) == replayable(ticket), ticket.number
        open_keys = [t.dedup_key for t in tickets if t.is_open]
        assert len(open_keys) == len(set(open_keys))
        last_number = (await conn.execute(select(ticket_counter.c.last_number))).scalar_one()
        assert all(t.number <= last_number for t in tickets)
        states = (await conn.execute(select(check_states))).all()
        for row in states:
            counted = (
                await conn.execute(
                    select(func.count(), func.max(check_results.c.id)).where(
                        check_results.c.dedup_key == row.dedup_key
                    )
                )
            ).one()
            if row.last_result_id is not None:
                assert row.last_result_id == counted[1], row.dedup_key
            if not retention_pruned:
                assert json.loads(row.state)["results_seen"] == counted[0], row.dedup_key
        if not retention_pruned:
            dangling = (
                await conn.execute(
                    select(func.count())
                    .select_from(ticket_events)
                    .where(
                        ticket_events.c.result_id.is_not(None),
                        ticket_events.c.result_id.not_in(select(check_results.c.id)),
                    )
                )
            ).scalar_one()
            assert dangling == 0
    return {"tickets": len(tickets), "states": len(states)}

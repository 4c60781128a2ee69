"""The health report's reads of the store, on SQLite and PostgreSQL: an hour's results of two
sites added together, the stages of failed ones, a figure's count, sum, min, max and sketch,
the same figure added up per period by the database, and the tickets opened in a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailwatch.domain.history import Sketch
from mailwatch.domain.results import CheckResult, State
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.store.history import record_result
from mailwatch.store.history_rows import figure_by_period, hourly_figure, hourly_states
from mailwatch.store.store import Store
from mailwatch.store.tickets import save_ticket, tickets_opened_between

HOUR = datetime(2025, 3, 10, 10, tzinfo=UTC)


def result(at: datetime, state: State, connect_s: float, stage: str | None = None) -> CheckResult:
    return CheckResult(
        "mx-main", "mx", "mx-main", state, "s", at, at, stage, {"connect_s": connect_s}
    )


def ticket(number: int, opened: datetime, check: str = "mx-main") -> Ticket:
    """Resolved: one open ticket per check at most."""
    return Ticket(number, f"{check}|{check}", check, check, 2, TicketStatus.RESOLVED, opened)


async def test_hours_of_two_sites_add_up_and_figures_keep_their_sketch(store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        async with store.write() as conn:
            minute = timedelta(minutes=1)
            await record_result(conn, result(HOUR + minute, State.OK, 0.2), "a", False)
            await record_result(conn, result(HOUR + 2 * minute, State.OK, 0.4), "b", False)
            await record_result(
                conn, result(HOUR + 3 * minute, State.CRITICAL, 3.0, "smtp_connect"), "b", False
            )
            await record_result(conn, result(HOUR + 61 * minute, State.WARNING, 1.0), "a", True)
            for number, opened in ((1, HOUR), (2, HOUR + timedelta(days=40))):
                await save_ticket(conn, ticket(number, opened), opened)
            await save_ticket(conn, ticket(3, HOUR, "other"), HOUR)
        async with store.read() as conn:
            states = await hourly_states(conn, "mx-main", HOUR, HOUR + timedelta(hours=2))
            figure = await hourly_figure(
                conn, "mx-main", "connect_s", HOUR, HOUR + timedelta(hours=2), sketch=True
            )
            bare = await hourly_figure(
                conn, "mx-main", "connect_s", HOUR, HOUR + timedelta(hours=1), sketch=False
            )
            # The second period starts mid-hour: the 10:00 hour is the first's, and no hour
            # starts in the second.
            periods = await figure_by_period(
                conn, "mx-main", "connect_s",
                [HOUR, HOUR + timedelta(minutes=30), HOUR + timedelta(hours=1)],
                HOUR + timedelta(hours=2),
            )  # fmt: skip
            opened = await tickets_opened_between(
                conn, HOUR, HOUR + timedelta(days=30), ["mx-main"]
            )
    finally:
        await store.close()
    first = HOUR.timestamp()
    assert [(s.start_s, s.ok, s.warning, s.critical, s.stages) for s in states] == [
        (first, 2, 0, 1, {"smtp_connect": 1}),
        (first + 3600, 0, 1, 0, {"": 1}),
    ]
    assert [(f.count, f.total, f.min, f.max) for f in figure] == [
        (3, 3.6, 0.2, 3.0),
        (1, 1.0, 1.0, 1.0),
    ]
    assert figure[0].bins == dict(Sketch.of([0.2, 0.4, 3.0]).bins)
    assert [(f.count, f.bins) for f in bare] == [(3, None)]
    assert [(p.index, p.count, p.total, p.max) for p in periods] == [
        (0, 3, 3.6, 3.0),
        (2, 1, 1.0, 1.0),
    ]
    assert periods[0].bins == dict(Sketch.of([0.2, 0.4, 3.0]).bins)
    assert periods[1].bins == dict(Sketch.of([1.0]).bins)
    assert [t.number for t in opened] == [1]

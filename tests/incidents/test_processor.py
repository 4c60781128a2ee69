"""The processor against a real SQLite file and a real PostgreSQL database: one transaction
per result, dependencies, retention, the outbox hook, ticks, maintenance windows, and people's
actions through the same store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from helpers.builders import PLANS, T0, assert_consistent, config, minutes, result
from helpers.store_queries import all_tickets
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.errors import TicketActionError, TicketNotFoundError
from mailwatch.domain.evidence import EvidenceKind
from mailwatch.domain.results import State
from mailwatch.domain.tickets import TicketStatus
from mailwatch.domain.time import iso
from mailwatch.domain.timeline import EventType
from mailwatch.incidents import processor
from mailwatch.incidents.actions import (
    acknowledge_ticket,
    resolve_ticket,
    silence_check,
    unsilence_check,
)
from mailwatch.incidents.processor import process_result, tick
from mailwatch.status.rca import rca_document, read_root_cause
from mailwatch.store.evidence import load_evidence
from mailwatch.store.outbox import OutboxRow
from mailwatch.store.schema import check_results, outbox, ticket_events
from mailwatch.store.store import Store
from mailwatch.store.tickets import StoredEvent, load_timeline

OK, WARN, CRIT = State.OK, State.WARNING, State.CRITICAL

SMTP = {"host": "mail.example.org", "tls": "none"}
IMAP = {"host": "mail.example.org", "tls": "none", "username": "u", "password": "p"}


def roundtrip(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "mail_from": "mw@example.org",
        "rcpt_to": "canary@example.org",
        "smtp": SMTP,
        "imap": IMAP,
        **extra,
    }


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A new store, on SQLite and on PostgreSQL (``helpers.store_engines``)."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


async def feed(
    store: Store, cfg: MailwatchConfig, check: str, states: Sequence[State], start: Any = T0
) -> list[processor.ProcessOutcome]:
    outcomes = []
    for i, state in enumerate(states):
        now = start + minutes(i)
        outcomes.append(await process_result(store, cfg, result(state, now, check), now))
    return outcomes


async def test_a_ticket_opens_and_resolves_with_its_timeline(store: Store) -> None:
    cfg = config()
    outcomes = await feed(store, cfg, "canary", [CRIT, CRIT, CRIT, OK, OK])
    assert [e.event.type for e in outcomes[1].events] == [EventType.TICKET_OPENED]
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
        timeline = [item.event.type for item in await load_timeline(conn, 1)]
    assert ticket.status is TicketStatus.RESOLVED
    assert ticket.resolved_by == "mailwatch"
    assert timeline == [EventType.TICKET_OPENED, EventType.TICKET_RESOLVED]
    # Each event names the result that caused it.
    assert outcomes[1].events[0].result_id == outcomes[1].result_id
    await assert_consistent(store)


async def test_one_parent_ticket_instead_of_eleven(store: Store) -> None:
    """IMAP down makes ten round-trip routes fail: one ticket, with ten dependent failures
    on its timeline."""
    routes = [f"route-{i}" for i in range(10)]
    cfg = config(
        checks={
            "roundtrip": [roundtrip("imap")]
            + [roundtrip(name, depends_on=["imap"]) for name in routes]
        }
    )
    for minute in range(4):
        now = T0 + minutes(minute)
        await process_result(store, cfg, result(CRIT, now, "imap", stage="imap_connect"), now)
        for name in routes:
            await process_result(store, cfg, result(CRIT, now, name), now)
    async with store.read() as conn:
        tickets = await all_tickets(conn)
        timeline = await load_timeline(conn, 1)
    assert [(t.number, t.check) for t in tickets] == [(1, "imap")]
    dependents = [i.event for i in timeline if i.event.type is EventType.DEPENDENT_FAILURE]
    assert sorted(e.payload["dependent_check"] for e in dependents) == sorted(routes)
    await assert_consistent(store)


async def test_retention_keeps_the_newest_results(store: Store) -> None:
    cfg = config(incidents={"result_retention": 5})
    outcomes = await feed(store, cfg, "canary", [OK] * 12)
    async with store.read() as conn:
        ids = (
            (await conn.execute(select(check_results.c.id).order_by(check_results.c.id)))
            .scalars()
            .all()
        )
    assert ids == [o.result_id for o in outcomes[-5:]]
    await assert_consistent(store, retention_pruned=True)


async def test_outbox_rows_are_written_in_the_same_transaction(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def plan(
        conn: Any, events: Sequence[StoredEvent], ticket: Any, cfg: MailwatchConfig, now: Any
    ) -> list[OutboxRow]:
        return [
            OutboxRow(item.id, item.event.ticket, "ops-mail", "email", {"type": item.event.type})
            for item in events
            if item.event.notify
        ]

    monkeypatch.setattr(processor, "plan_notices", plan)
    cfg = config()
    await feed(store, cfg, "canary", [CRIT, CRIT])
    async with store.read() as conn:
        rows = (await conn.execute(select(outbox))).all()
    assert [(r.ticket, r.route, r.status, r.attempts) for r in rows] == [
        (1, "ops-mail", "pending", 0)
    ]


async def test_a_failing_notification_plan_stores_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def plan(*_: object) -> list[OutboxRow]:
        raise RuntimeError("route table broken")

    cfg = config()
    await feed(store, cfg, "canary", [CRIT])
    monkeypatch.setattr(processor, "plan_notices", plan)
    with pytest.raises(RuntimeError):
        await process_result(store, cfg, result(CRIT, T0 + minutes(1)), T0 + minutes(1))
    async with store.read() as conn:
        results = (await conn.execute(select(func.count()).select_from(check_results))).scalar()
        events = (await conn.execute(select(func.count()).select_from(ticket_events))).scalar()
        tickets = await all_tickets(conn)
    assert (results, events, tickets) == (1, 0, [])
    await assert_consistent(store)


async def test_tick_records_sla_breaches(store: Store) -> None:
    cfg = config(**PLANS, incidents={"default_plan": "premium", "open_after": 1})
    await feed(store, cfg, "canary", [CRIT])
    assert await tick(store, cfg, T0 + minutes(30)) == []
    (outcome,) = await tick(store, cfg, T0 + minutes(61))
    assert [e.event.type for e in outcome.events] == [EventType.SLA_BREACHED_RESPONSE]
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
    assert ticket.response_breached
    assert ticket.response_due == T0 + timedelta(hours=1)
    await assert_consistent(store)


async def test_people_act_through_the_store(store: Store) -> None:
    cfg = config(**PLANS, incidents={"default_plan": "premium", "open_after": 1})
    await feed(store, cfg, "canary", [CRIT])
    at = T0 + minutes(5)
    await acknowledge_ticket(store, cfg, 1, "alice", "looking", at)
    with pytest.raises(TicketActionError, match="MW-000001: it is already acknowledged"):
        await acknowledge_ticket(store, cfg, 1, "bob", None, at)
    with pytest.raises(TicketNotFoundError, match="there is no ticket MW-000042"):
        await acknowledge_ticket(store, cfg, 42, "bob", None, at)
    await resolve_ticket(store, cfg, 1, "alice", "relay restarted", at + minutes(1))
    with pytest.raises(TicketActionError, match="was resolved"):
        await acknowledge_ticket(store, cfg, 1, "bob", None, at + minutes(2))
    async with store.read() as conn:
        (ticket,) = await all_tickets(conn)
    assert ticket.resolution_due == at + timedelta(hours=4)
    assert (ticket.resolved_by, ticket.resolution_note) == ("alice", "relay restarted")
    await assert_consistent(store)


async def test_silence_then_unsilence_reannounces_open_tickets(store: Store) -> None:
    cfg = config(incidents={"open_after": 1})
    await silence_check(store, cfg, "all", timedelta(hours=2), "patching", "alice", T0)
    (outcome,) = await feed(store, cfg, "canary", [CRIT], start=T0 + minutes(1))
    assert [(e.event.type, e.event.notify) for e in outcome.events] == [
        (EventType.TICKET_OPENED, False)
    ]
    change = await unsilence_check(store, cfg, "all", "alice", T0 + minutes(5))
    assert [s.reason for s in change.silences] == ["patching"]
    async with store.read() as conn:
        timeline = [(i.event.type, i.event.notify) for i in await load_timeline(conn, 1)]
    assert timeline == [
        (EventType.TICKET_OPENED, False),
        (EventType.UNSILENCED, False),
        (EventType.NOTIFICATIONS_RESUMED, True),
    ]
    await assert_consistent(store)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["imap", "route", "mx"]), st.sampled_from([OK, WARN, CRIT])),
        max_size=40,
    )
)
def test_stored_data_stays_consistent(tmp_path_factory: pytest.TempPathFactory, steps: Any) -> None:
    """Arbitrary results of three checks (one depending on another) through the real store."""
    import asyncio

    cfg = config(
        checks={"roundtrip": [roundtrip("imap"), roundtrip("route", depends_on=["imap"])]},
        incidents={"open_after": 1, "resolve_after": 2},
    )
    path = tmp_path_factory.mktemp("prop") / "mailwatch.db"

    async def run() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{path}")
        try:
            for i, (check, state) in enumerate(steps):
                now = T0 + minutes(i)
                await process_result(store, cfg, result(state, now, check), now)
            await assert_consistent(store)
        finally:
            await store.close()

    asyncio.run(run())


async def test_window_holds_notifications_and_its_end_reannounces(tmp_path: Path) -> None:
    start = T0
    end = T0 + timedelta(hours=1)
    cfg = config(
        maintenance=[{"name": "relay-upgrade", "start": start.isoformat(), "end": end.isoformat()}],
        incidents={"open_after": 2},
    )
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'mailwatch.db'}")
    try:
        events = []
        for i in range(3):
            now = T0 + minutes(10 * i)
            outcome = await process_result(store, cfg, result(State.CRITICAL, now), now)
            events += outcome.events
        assert [(e.event.type, e.event.notify) for e in events] == [
            (EventType.TICKET_OPENED, False)
        ]
        assert await tick(store, cfg, end - minutes(1)) == []
        (after,) = await tick(store, cfg, end)
        assert [(e.event.type, e.event.notify) for e in after.events] == [
            (EventType.NOTIFICATIONS_RESUMED, True)
        ]
        assert await tick(store, cfg, end + minutes(1)) == []
    finally:
        await store.close()


async def test_the_first_failure_is_the_streaks_even_when_results_were_pruned(
    store: Store,
) -> None:
    # Six failures before the ticket opens, but only three results kept: the oldest kept
    # failure is the streak's fourth, so the pack names the engine's failing_since instead.
    cfg = config(incidents={"result_retention": 3, "open_after": 6})
    await feed(store, cfg, "canary", [OK, *[CRIT] * 6])
    async with store.read() as conn:
        evidence = await load_evidence(conn, 1)
    assert EvidenceKind.FIRST_FAILURE not in {record.kind for record in evidence}
    pack = await read_root_cause(store, cfg, 1, T0 + minutes(10))
    assert pack is not None and pack.first.at == T0 + minutes(1)


async def test_the_first_failure_is_recorded_when_the_streak_is_kept(store: Store) -> None:
    cfg = config(incidents={"result_retention": 50, "open_after": 3})
    await feed(store, cfg, "canary", [OK, *[CRIT] * 3])
    async with store.read() as conn:
        evidence = await load_evidence(conn, 1)
    first = [record for record in evidence if record.kind is EvidenceKind.FIRST_FAILURE]
    assert [record.data["finished_at"] for record in first] == [iso(T0 + minutes(1))]
    pack = await read_root_cause(store, cfg, 1, T0 + minutes(10))
    assert pack is not None and pack.first.at == T0 + minutes(1)


async def test_show_rca_json_masks_a_related_checks_password_in_its_window(store: Store) -> None:
    secret = "s3cret-imap-pass"
    cfg = config(
        checks={
            "roundtrip": [
                roundtrip("mailbox", imap={**IMAP, "password": secret}),
                roundtrip("relay", depends_on=["mailbox"]),
            ]
        }
    )
    mailbox = cfg.check_named("mailbox")
    assert mailbox is not None
    echoed = replace(
        result(OK, T0, "mailbox", target=mailbox.target),
        details={"server_reply": f"a LOGIN u {secret} accepted"},
    )
    await process_result(store, cfg, echoed, T0)
    await feed(store, cfg, "relay", [CRIT, CRIT], start=T0 + minutes(1))
    pack = await read_root_cause(store, cfg, 1, T0 + minutes(5))
    assert pack is not None and pack.ticket.check == "relay"
    [related] = rca_document(pack, "MW")["related"]
    [window] = related["window_results"]
    text = json.dumps(related)
    assert secret not in text
    assert window["details"]["server_reply"] == "a LOGIN u **** accepted"

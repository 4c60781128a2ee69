"""Escalation ladders, reminders, breach notices and maintenance windows, end to end: the
processor plans outbox rows, the sender delivers them to real HTTP receivers (apprise
``json://``). Ladder timing is driven with explicit instants, minute by minute."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from helpers.builders import result
from helpers.http_receiver import HttpReceiver
from helpers.outbox_support import (
    T0,
    alert_config,
    fail,
    open_store,
    rows,
    sender,
    titles,
)
from mailwatch.alerts.ladder import (
    DEFAULT_LADDER,
    EscalationStep,
    ladder_for,
    ladder_notices,
)
from mailwatch.alerts.sender import OutboxSender
from mailwatch.config.loader import format_validation_error
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.results import State
from mailwatch.incidents.actions import acknowledge_ticket, mitigate_ticket
from mailwatch.incidents.processor import process_result, tick
from mailwatch.store.outbox import OutboxRow, escalation_steps, insert_outbox

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "mailwatch.example.toml"

BRIEF_LADDER = {
    "steps": [
        {"after": "0m", "routes": ["team"]},
        {"after": "15m", "routes": ["oncall"], "repeat_every": "10m", "repeat": 6},
    ]
}
"""Severity 1: notify team at once; not acknowledged after 15 min: notify oncall; repeat
oncall every 10 min, at most 6 times."""

ONCALL_TITLE = "[MW-000001] SEV1 canary: not_delivered (escalation step 2)"


def minute(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


async def run_minutes(out: OutboxSender, minutes: Iterable[float]) -> None:
    for n in minutes:
        await out.run_once(minute(n))


def two_routes(team: HttpReceiver, oncall: HttpReceiver, **sections: Any) -> MailwatchConfig:
    return alert_config(
        {"team": {"urls": [team.url("/team")]}, "oncall": {"urls": [oncall.url("/oncall")]}},
        **sections,
    )


# --------------------------------------------------------------------------------------------
# Ladders as instants
# --------------------------------------------------------------------------------------------


def test_ladder_notices_of_the_brief_example() -> None:
    steps = (
        EscalationStep(timedelta(0), ("team",)),
        EscalationStep(timedelta(minutes=15), ("oncall",), timedelta(minutes=10), 6),
    )
    notices = ladder_notices(steps, T0)
    assert [(n.step, n.repeat, (n.due_at - T0) // timedelta(minutes=1)) for n in notices] == [
        (1, 0, 0),
        (2, 0, 15),
        (2, 1, 25),
        (2, 2, 35),
        (2, 3, 45),
        (2, 4, 55),
        (2, 5, 65),
        (2, 6, 75),
    ]
    assert [n.kind for n in notices[:2]] == [NoticeKind.OPENED, NoticeKind.ESCALATION]
    assert {n.routes for n in notices[1:]} == {("oncall",)}


def test_repeats_of_an_early_step_interleave_with_later_steps() -> None:
    steps = (
        EscalationStep(timedelta(0), None, timedelta(minutes=10), 2),
        EscalationStep(timedelta(minutes=15), ("boss",)),
    )
    notices = ladder_notices(steps, T0)
    assert [(n.step, n.repeat, (n.due_at - T0).seconds // 60) for n in notices] == [
        (1, 0, 0),
        (1, 1, 10),
        (2, 0, 15),
        (1, 2, 20),
    ]


def test_ladder_for_takes_the_severity_then_default_then_everyone_once() -> None:
    routes = {"team": {"urls": ["json://127.0.0.1:9/t"]}}
    bare = alert_config(routes)
    assert ladder_for(bare, 1) == DEFAULT_LADDER
    cfg = alert_config(
        routes,
        escalation={
            "sev1": BRIEF_LADDER | {"steps": [{"after": "0m", "routes": ["team"]}]},
            "default": {"steps": [{"after": "5m"}]},
        },
    )
    assert ladder_for(cfg, 1) == (EscalationStep(timedelta(0), ("team",)),)
    assert ladder_for(cfg, 3) == (EscalationStep(timedelta(minutes=5)),)


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------

ROUTES = {"team": {"urls": ["json://127.0.0.1:9/t"]}}


@pytest.mark.parametrize(
    ("sections", "problem"),
    [
        (
            {"escalation": {"sev1": {"steps": [{"after": "0m", "routes": ["pager"]}]}}},
            "(top level): escalation.sev1.steps[0].routes names unknown route 'pager' "
            "(defined routes: 'team')",
        ),
        (
            {"escalation": {"sev1": {"steps": [{"after": "0m", "repeat": 3}]}}},
            'escalation.sev1.steps[0]: repeat = 3 needs repeat_every (e.g. "10m")',
        ),
        (
            {"escalation": {"sev2": {"steps": [{"after": "0m", "repeat_every": "5m"}]}}},
            "escalation.sev2.steps[0]: repeat_every without repeat: say how many times "
            "(repeat = 6)",
        ),
        (
            {"escalation": {"sev1": {"steps": [{"after": "15m"}, {"after": "10m"}]}}},
            "escalation.sev1: step after = 10m must come later than the step before it (15m)",
        ),
        (
            {"escalation": {"sev1": {"steps": [{"after": "0m", "routes": []}]}}},
            "escalation.sev1.steps[0]: routes is empty, so the step would notify nobody; omit it",
        ),
        (
            {"escalation": {"sev1": {"steps": [{"after": "4bh"}]}}},
            "escalation.sev1.steps[0].after: invalid duration '4bh': use whole numbers with "
            'units s, m, h or d, e.g. "0m", "90s", "15m", "4h" or "1h30m" (wall clock; no '
            "business units here)",
        ),
        (
            {"escalation": {"sev1": {"steps": [{"after": "0m", "repeat": 101}]}}},
            "escalation.sev1.steps[0].repeat: Input should be less than or equal to 100",
        ),
        (
            {"escalation": {"urgent": {"steps": [{"after": "0m"}]}}},
            "escalation.urgent.[key]: Input should be 'default', 'sev1', 'sev2', 'sev3' or 'sev4'",
        ),
        (
            {"outbox": {"retry_initial_s": 100, "retry_max_s": 10}},
            "outbox: retry_max_s (10) must not be below retry_initial_s (100)",
        ),
        ({"outbox": {"resend": True}}, "outbox.resend: unknown key"),
    ],
)
def test_invalid_escalation_config_is_named(sections: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MailwatchConfig.model_validate({"routes": ROUTES, **sections})
    assert format_validation_error(caught.value) == [problem]


def test_durations_round_trip() -> None:
    cfg = alert_config(
        ROUTES,
        escalation={"sev1": {"steps": [{"after": "1h30m", "repeat_every": "90s", "repeat": 1}]}},
        reminders={"before_resolution_due": "0"},
    )
    dumped = cfg.model_dump(mode="json")
    assert dumped["escalation"]["sev1"]["steps"][0]["after"] == "1h30m"
    assert dumped["escalation"]["sev1"]["steps"][0]["repeat_every"] == "1m30s"
    assert dumped["reminders"]["before_resolution_due"] == "0m"


# --------------------------------------------------------------------------------------------
# Ladders against receivers
# --------------------------------------------------------------------------------------------


async def test_the_sev1_ladder_runs_to_its_end_without_an_acknowledgement(
    store_url: str,
) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(team, oncall, escalation={"sev1": BRIEF_LADDER})
        async with open_store(store_url) as store:
            opened = await fail(store, cfg, T0)
            assert len(opened.outbox_ids) == 8  # the whole ladder, with absolute due times
            out = sender(store, cfg)
            await run_minutes(out, range(15))
            assert (len(team.requests), len(oncall.requests)) == (1, 0)
            async with store.read() as conn:
                assert await escalation_steps(conn) == {1: 1}
            await out.run_once(minute(15))
            assert titles(oncall.requests) == [ONCALL_TITLE]
            async with store.read() as conn:
                assert await escalation_steps(conn) == {1: 2}
            await run_minutes(out, range(16, 121))
            assert len(team.requests) == 1
            assert titles(oncall.requests) == [ONCALL_TITLE] * 7  # once, then 6 repeats
            assert "escalated (escalation step 2)" in oncall.requests[0].json()["message"]


async def test_an_acknowledgement_stops_the_ladder(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(
            team,
            oncall,
            escalation={"sev1": BRIEF_LADDER},
            reminders={"before_resolution_due": None},
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await run_minutes(out, range(26))
            assert len(oncall.requests) == 2  # at 15 and 25 min
            await acknowledge_ticket(store, cfg, 1, "ana", None, minute(27))
            await run_minutes(out, range(27, 180, 5))
            assert (len(team.requests), len(oncall.requests)) == (1, 2)
            statuses = [(r.kind, r.payload.get("repeat"), r.status) for r in await rows(store)]
    assert statuses == [
        ("opened", 0, "delivered"),
        ("escalation", 0, "delivered"),
        ("escalation", 1, "delivered"),
        *[("escalation", n, "cancelled") for n in range(2, 7)],
    ]


async def test_a_row_no_longer_wanted_is_cancelled_when_it_comes_due(store_url: str) -> None:
    """The planner cancels escalation rows when the ticket is acknowledged; a row that raced
    past that (queued here by hand after the acknowledgement) is caught by the sender."""
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(team, oncall, reminders={"before_resolution_due": None})
        async with open_store(store_url) as store:
            opened = await fail(store, cfg, T0)
            await acknowledge_ticket(store, cfg, 1, "ana", None, minute(1))
            async with store.write() as conn:
                late = OutboxRow(
                    opened.events[0].id, 1, "oncall", "escalation", {"step": 2, "repeat": 0}
                )
                [row_id] = await insert_outbox(conn, [late], minute(2))
            report = await sender(store, cfg).run_once(minute(2))
            assert row_id in report.cancelled
            assert (team.requests, oncall.requests) == ([], [])  # the ack came first
            [row] = [r for r in await rows(store) if r.id == row_id]
            assert (row.status, row.last_error) == (
                "cancelled",
                "not wanted: the ticket is acknowledged",
            )


async def test_the_seed_rule_from_the_example_config(store_url: str) -> None:
    """Mailprotector (seed 001_b9d1b27feceed908.txt): escalate to emergency support at once;
    on-call responds within 30 minutes. The example's ladder, with the example's routes
    pointed at receivers: help desk and team at once, on call paged every 10 minutes until
    someone acknowledges."""
    example = tomllib.loads(EXAMPLE.read_text())
    with HttpReceiver() as team, HttpReceiver() as oncall, HttpReceiver() as helpdesk:
        receivers = {"team": team, "oncall": oncall, "helpdesk": helpdesk}
        routes = {
            name: example["routes"][name] | {"urls": [receivers[name].url(f"/{name}")]}
            for name in receivers
        }
        cfg = alert_config(
            routes,
            escalation=example["escalation"],
            reminders=example["reminders"],
            outbox=example["outbox"],
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await run_minutes(out, range(25))
            assert titles(helpdesk.requests) == ["[MW-000001] SEV1 canary: not_delivered"]
            assert titles(team.requests) == ["[MW-000001] SEV1 canary: not_delivered"]
            assert titles(oncall.requests) == [
                "[MW-000001] SEV1 canary: not_delivered",
                ONCALL_TITLE,
                ONCALL_TITLE,
            ]
            await acknowledge_ticket(store, cfg, 1, "oncall-bob", "on it", minute(25))
            await run_minutes(out, range(25, 120))
            assert (len(team.requests), len(oncall.requests), len(helpdesk.requests)) == (1, 3, 1)


# --------------------------------------------------------------------------------------------
# Reminders and breaches
# --------------------------------------------------------------------------------------------


async def test_reminder_before_the_resolution_deadline_then_the_breach(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(
            team,
            oncall,
            escalation={"sev1": BRIEF_LADDER},
            reminders={"before_resolution_due": "30m"},
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await run_minutes(out, range(6))
            # Acknowledged at 5 min: resolution due 4 h later (premium, sev1), at 4:05.
            await acknowledge_ticket(store, cfg, 1, "ana", None, minute(5))
            await run_minutes(out, range(6, 215, 15))
            assert len(team.requests) == 1
            await out.run_once(minute(215))  # 3:35, half an hour before 4:05
            assert titles(team.requests)[1:] == [
                "[MW-000001] SEV1 canary: not_delivered (reminder)"
            ]
            assert (
                "Resolution due: 2026-11-23 14:05 EST (30 min left)"
                in (team.requests[1].json()["message"])
            )
            assert oncall.requests == []  # never told (acknowledged before its step)
            await tick(store, cfg, minute(246))
            await out.run_once(minute(246))
            assert titles(team.requests)[2:] == [
                "[MW-000001] SEV1 canary: resolution deadline breached"
            ]
            await run_minutes(out, range(250, 400, 30))
            assert len(team.requests) == 3


async def test_response_breach_goes_to_every_route_told_so_far(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(team, oncall, escalation={"sev1": BRIEF_LADDER})
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await run_minutes(out, range(56))
            await tick(store, cfg, minute(60))  # premium sev1: respond within 1 h
            await out.run_once(minute(60))
            breach = "[MW-000001] SEV1 canary: response deadline breached"
            assert titles(team.requests) == ["[MW-000001] SEV1 canary: not_delivered", breach]
            assert titles(oncall.requests)[-1] == breach


async def test_mitigation_cancels_the_pending_reminder(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(team, oncall)
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await out.run_once(T0)
            await acknowledge_ticket(store, cfg, 1, "ana", None, minute(5))
            await mitigate_ticket(store, cfg, 1, "ana", "relay switched", minute(10))
            await run_minutes(out, range(10, 400, 30))
            kinds = [(r.kind, r.status) for r in await rows(store)]
    assert ("reminder", "cancelled") in kinds
    assert len(team.requests) == 1


# --------------------------------------------------------------------------------------------
# Maintenance windows
# --------------------------------------------------------------------------------------------


def window(start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [{"name": "patching", "start": start, "end": end}]


async def test_a_window_holds_an_opening_back_until_it_ends(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(
            team,
            oncall,
            escalation={"sev1": BRIEF_LADDER},
            maintenance=window(T0, minute(60)),
        )
        async with open_store(store_url) as store:
            opened = await fail(store, cfg, minute(5))
            assert opened.outbox_ids == []
            out = sender(store, cfg)
            await run_minutes(out, range(5, 60))
            await tick(store, cfg, minute(59))
            assert (team.requests, oncall.requests) == ([], [])
            resumed = await tick(store, cfg, minute(60))
            assert [e.event.type.value for e in resumed[0].events] == ["notifications_resumed"]
            await out.run_once(minute(60))
            assert titles(team.requests) == ["[MW-000001] SEV1 canary: not_delivered"]
            # The ladder starts over from the end of the window: on call at 75 min.
            await run_minutes(out, range(61, 75))
            assert oncall.requests == []
            await out.run_once(minute(75))
            assert titles(oncall.requests) == [ONCALL_TITLE]


async def test_a_window_defers_due_pages_and_sends_only_the_latest(store_url: str) -> None:
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = two_routes(
            team,
            oncall,
            escalation={"sev1": BRIEF_LADDER},
            maintenance=window(minute(10), minute(40)),
        )
        async with open_store(store_url) as store:
            await fail(store, cfg, T0)
            out = sender(store, cfg)
            await run_minutes(out, range(40))
            assert (len(team.requests), oncall.requests) == (1, [])  # 15, 25, 35 held back
            report = await out.run_once(minute(40))
            assert len(report.delivered) == 1 and len(report.cancelled) == 2
            assert titles(oncall.requests) == [ONCALL_TITLE]
            await run_minutes(out, range(41, 90))
            assert len(oncall.requests) == 5  # then 45, 55, 65, 75 as planned


async def test_a_route_test_ticket_skips_the_ladder_and_the_route_that_failed(
    store_url: str,
) -> None:
    """The sev2 ladder names the failing route first: the route test's ticket still goes to
    the fallback only, at once, and its recovery too."""
    ladder = {"steps": [{"after": "0m", "routes": ["team"]}, {"after": "15m"}]}
    with HttpReceiver() as team, HttpReceiver() as oncall:
        cfg = alert_config(
            {
                "team": {"urls": [team.url("/team")], "test_every": "7d", "fallback": "oncall"},
                "oncall": {"urls": [oncall.url("/oncall")]},
            },
            escalation={"sev2": ladder},
        )
        async with open_store(store_url) as store:
            check = "route-test:team"
            failed = result(
                State.CRITICAL, T0, check, kind="route_test", target="team", stage="route_test"
            )
            opened = await process_result(store, cfg, failed, T0)
            assert [t.severity for t in opened.tickets] == [2]
            assert len(opened.outbox_ids) == 1
            out = sender(store, cfg)
            await run_minutes(out, range(30))
            later = minute(30)
            passed = result(State.OK, later, check, kind="route_test", target="team", stage=None)
            resolved = await process_result(store, cfg, passed, later)
            assert [t.status.value for t in resolved.tickets] == ["resolved"]
            await run_minutes(out, range(30, 32))
            assert team.requests == []
            assert titles(oncall.requests) == [
                "[MW-000001] SEV2 route-test:team: route_test",
                "[MW-000001] SEV2 route-test:team: recovered",
            ]

"""The rulebook of notices and the pure planner that calls it: tables, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mailwatch.alerts import rules
from mailwatch.alerts.planner import PlannerSettings, plan_outbox
from mailwatch.alerts.routes import build_routes
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.notices import NoticeKind, OutboxStatus
from mailwatch.domain.quiet import Quiet
from mailwatch.domain.tickets import Ticket, TicketStatus
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.outbox import OutboxEntry
from mailwatch.store.tickets import StoredEvent

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def ticket(status: TicketStatus = TicketStatus.TRIGGERED) -> Ticket:
    return Ticket(1, "canary", "canary", "canary", 1, status, NOW - timedelta(hours=1))


def entry(
    id: int,
    kind: NoticeKind,
    status: OutboxStatus,
    *,
    route: str = "ops",
    due: datetime = NOW,
    **payload: Any,
) -> OutboxEntry:
    return OutboxEntry(
        id, 1, 1, route, kind.value, payload, status, 0, due, NOW - timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("kind", "status", "wanted"),
    [
        (NoticeKind.ESCALATION, TicketStatus.TRIGGERED, True),
        (NoticeKind.ESCALATION, TicketStatus.ACKNOWLEDGED, False),
        (NoticeKind.REMINDER, TicketStatus.ACKNOWLEDGED, True),
        (NoticeKind.REMINDER, TicketStatus.MITIGATED, False),
        (NoticeKind.OPENED, TicketStatus.ACKNOWLEDGED, True),
        (NoticeKind.RECOVERY, TicketStatus.RESOLVED, True),
    ],
)
def test_unwanted(kind: NoticeKind, status: TicketStatus, wanted: bool) -> None:
    assert (rules.unwanted(kind, ticket(status)) is None) == wanted


def test_gate_verdicts() -> None:
    page = entry(1, NoticeKind.ESCALATION, OutboxStatus.SENDING, due=NOW - timedelta(minutes=9))
    later = entry(2, NoticeKind.ESCALATION, OutboxStatus.SCHEDULED, due=NOW - timedelta(minutes=1))
    assert rules.gate(page, None, [], None, NOW) == rules.Cancel("the ticket no longer exists")
    assert isinstance(rules.gate(page, ticket(), [page, later], None, NOW), rules.Cancel)
    assert rules.gate(page, ticket(), [page], None, NOW) == rules.Send()
    quiet = Quiet("silence", "x", NOW + timedelta(hours=1))
    assert rules.gate(page, ticket(), [page], quiet, NOW) == rules.Defer(NOW + timedelta(hours=1))
    endless = Quiet("silence", "x", None)
    assert rules.gate(page, ticket(), [], endless, NOW) == rules.Defer(NOW + rules.UNQUIET_RETRY)
    opened = entry(1, NoticeKind.OPENED, OutboxStatus.FAILED, due=NOW + timedelta(seconds=30))
    recovery = entry(2, NoticeKind.RECOVERY, OutboxStatus.SENDING)
    resolved = ticket(TicketStatus.RESOLVED)
    assert rules.gate(recovery, resolved, [opened, recovery], None, NOW) == rules.Defer(
        NOW + timedelta(seconds=30) + rules.ORDER_GAP
    )


def test_planner_cancels_with_the_rulebook_and_plans_a_reminder() -> None:
    config = MailwatchConfig.model_validate({"routes": {"ops": {"urls": ["json://localhost"]}}})
    acked = Ticket(
        1,
        "canary",
        "canary",
        "canary",
        1,
        TicketStatus.ACKNOWLEDGED,
        NOW - timedelta(hours=1),
        resolution_due=NOW + timedelta(hours=2),
    )
    stored = [
        entry(1, NoticeKind.OPENED, OutboxStatus.DELIVERED),
        entry(2, NoticeKind.ESCALATION, OutboxStatus.SCHEDULED),
        entry(3, NoticeKind.ESCALATION, OutboxStatus.FAILED),
    ]
    event = TicketEvent(EventType.ACKNOWLEDGED, NOW, "canary", "canary", 1, notify=True)
    settings = PlannerSettings.for_ticket(config, acked, build_routes(config))
    plan = plan_outbox([StoredEvent(7, event)], acked, stored, settings, NOW)
    assert plan.cancelled_by_reason() == {"not wanted after acknowledged": [2]}
    (reminder,) = plan.rows
    assert (reminder.kind, reminder.route, reminder.status) == (
        NoticeKind.REMINDER,
        "ops",
        OutboxStatus.SCHEDULED,
    )
    assert reminder.next_attempt_at == NOW + timedelta(hours=1, minutes=30)

"""What a queued notice says about its ticket: ``NoticeFacts`` from the ticket row, the check's
config and the payload the planner stored with the outbox row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mailwatch.alerts.messages import NoticeFacts, key_figure
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import parse_instant

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


def notice_facts(
    ticket: Ticket,
    kind: NoticeKind,
    config: MailwatchConfig,
    payload: Mapping[str, Any] | None = None,
) -> NoticeFacts:
    """The facts of a ``kind`` notice about ``ticket`` as it stands now (stage, summary and
    deadlines from the ticket; the key figure and failure start from ``payload``)."""
    p = payload or {}
    check = config.check_named(ticket.check)
    metrics = p.get("metrics")
    since = parse_instant(p.get("failing_since")) or ticket.opened_at
    step = p.get("step") if kind is NoticeKind.ESCALATION else None
    return NoticeFacts(
        ticket=format_number(ticket.number, config.incidents.ticket_prefix),
        severity=ticket.severity,
        check=ticket.check,
        target=ticket.target,
        kind=kind,
        stage=ticket.last_stage or p.get("stage"),
        summary=ticket.last_summary or str(p.get("summary") or ""),
        since=since,
        key_figure=(
            key_figure(metrics, check.kind if check is not None else None)
            if isinstance(metrics, Mapping)
            else None
        ),
        response_due=ticket.response_due,
        resolution_due=ticket.resolution_due,
        acknowledged_by=ticket.acknowledged_by,
        step=step if isinstance(step, int) else None,
        breach=p.get("breach") if kind is NoticeKind.BREACH else None,
        runbook=check.runbook if check is not None else None,
        tags=tuple(check.tags) if check is not None else (),
    )

"""What a queued notice says about its ticket: ``NoticeFacts`` from the ticket row, the check's
config and the payload the planner stored with the outbox row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailwatch.alerts.messages import NoticeFacts, key_figure
from mailwatch.domain.acklinks import AckLink, link_url, sign
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import parse_instant

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig


LINKED_KINDS = frozenset({NoticeKind.OPENED, NoticeKind.ESCALATION})
"""The notices that carry an ack link: the ones asking someone to respond."""


def ack_link(
    ticket: Ticket, kind: NoticeKind, config: MailwatchConfig, route: str, now: datetime
) -> str | None:
    """The signed ack link for a ``kind`` notice about ``ticket`` through ``route``, valid
    ``[web] ack_link_valid_s`` from ``now``; None without ``public_url`` and ``link_key``, for
    other kinds and for a ticket already acknowledged or resolved."""
    web = config.web
    if web.public_url is None or web.link_key is None or kind not in LINKED_KINDS:
        return None
    if not ticket.is_open or ticket.acknowledged_at is not None:
        return None
    link = AckLink(ticket.number, route, now + timedelta(seconds=web.ack_link_valid_s))
    return link_url(web.public_url, sign(web.link_key.get_secret_value().encode(), link))


def notice_facts(
    ticket: Ticket,
    kind: NoticeKind,
    config: MailwatchConfig,
    payload: Mapping[str, Any] | None = None,
    *,
    route: str | None = None,
    now: datetime | None = None,
) -> NoticeFacts:
    """The facts of a ``kind`` notice about ``ticket`` as it stands now (stage, summary and
    deadlines from the ticket; the key figure and failure start from ``payload``). With the
    ``route`` it goes through and ``now``, opened and escalation notices get an ack link."""
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
        ack_link=(
            ack_link(ticket, kind, config, route, now)
            if route is not None and now is not None
            else None
        ),
    )

"""One attempt at a notice: render the claimed rows of a job and deliver them through their
route, and the timeline events that record how it went.

Never raises for a delivery problem: a failed delivery is a ``DeliveryOutcome`` the settling
step records (``mailwatch.alerts.settling``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mailwatch.alerts.delivery import DeliveryOutcome, UrlOutcome, deliver
from mailwatch.alerts.facts import notice_facts
from mailwatch.alerts.grouping import combine
from mailwatch.alerts.idempotency import idempotency_key
from mailwatch.alerts.masking import mask_text
from mailwatch.alerts.messages import RenderedMessage, render
from mailwatch.alerts.routes import Route
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.tickets import Ticket
from mailwatch.domain.time import display_zone
from mailwatch.domain.timeline import EventType, TicketEvent
from mailwatch.store.outbox import OutboxEntry

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig

log = logging.getLogger("mailwatch.alerts.sender")


@dataclass
class Job:
    """One message to send: one row, or several grouped rows of one route."""

    route: Route
    entries: list[OutboxEntry]
    tickets: list[Ticket]
    message: RenderedMessage | None = None


async def attempt(config: MailwatchConfig, job: Job, now: datetime) -> DeliveryOutcome:
    """Render and deliver ``job``; never raises for a delivery problem."""
    zone = display_zone(config.incidents.timezone)
    fmt = job.route.config.format
    messages = [
        render(
            notice_facts(
                ticket, NoticeKind(entry.kind), config, entry.payload, route=entry.route, now=now
            ),
            now=now,
            body_format=fmt,
            templates=config.alerts.templates,
            zone=zone,
        )
        for entry, ticket in zip(job.entries, job.tickets, strict=True)
    ]
    message = combine(messages)
    job.message = message
    try:
        return await deliver(
            job.route,
            message.title,
            message.body,
            config.alerts.timeout_s,
            body_format=fmt,
            level=message.level,
            idempotency_key=idempotency_key(job.entries),
        )
    except Exception as exc:  # a bug below us must not leave the row in ``sending``
        log.exception(
            "outbox: delivery through route %s raised",
            job.route.name,
            extra={"route": job.route.name},
        )
        error = mask_text(f"{type(exc).__name__}: {exc}")
        return DeliveryOutcome(False, [UrlOutcome(job.route.name, False, error)])


def error_text(outcome: DeliveryOutcome) -> str:
    """What went wrong, per URL (masked already)."""
    failed = [f"{u.masked_url}: {u.error}" for u in outcome.per_url if not u.ok]
    return "; ".join(failed) or "the route has no URL to deliver to"


def attempt_event(
    kind: EventType,
    ticket: Ticket,
    entry: OutboxEntry,
    now: datetime,
    *,
    outcome: DeliveryOutcome | None = None,
    error: str | None = None,
    **extra: Any,
) -> TicketEvent:
    """The timeline event of an attempt at ``entry`` (sent, failed, given up, fallback)."""
    payload: dict[str, Any] = {
        "outbox_id": entry.id,
        "route": entry.route,
        "notice": entry.kind,
        "attempt": entry.attempts + 1,
    }
    for key in ("step", "repeat", "breach", "fallback_of"):
        if entry.payload.get(key) is not None:
            payload[key] = entry.payload[key]
    if outcome is not None:
        payload["urls"] = [
            {"url": u.masked_url, "ok": u.ok, "error": u.error} for u in outcome.per_url
        ]
    payload |= extra
    payload["summary"] = _summary(kind, entry, outcome, error, extra)
    return TicketEvent(
        type=kind,
        at=now,
        check=ticket.check,
        dedup_key=ticket.dedup_key,
        ticket=ticket.number,
        payload=payload,
    )


def _summary(
    kind: EventType,
    entry: OutboxEntry,
    outcome: DeliveryOutcome | None,
    error: str | None,
    extra: dict[str, Any],
) -> str:
    step = entry.payload.get("step")
    notice = f"{entry.kind} notice" + (
        f" (step {step})" if entry.kind == NoticeKind.ESCALATION and step else ""
    )
    where = f"route {entry.route}"
    if kind is EventType.NOTIFICATION_FALLBACK:
        return f"{notice}: {where} keeps failing; also sent through {extra['fallback_route']}"
    if kind is EventType.NOTIFICATION_UNCERTAIN:
        resends = extra.get("interrupted_resends", 0)
        return (
            f"{notice} through {where}: delivery uncertain (attempt {entry.attempts + 1} cut "
            f"off by a stop, already sent again {resends} time(s) after an interruption); "
            "not sent again"
        )
    if outcome is not None:
        ok = sum(1 for u in outcome.per_url if u.ok)
        tally = f"{ok} of {len(outcome.per_url)} URL(s) took it"
        if kind is EventType.NOTIFICATION_SENT:
            return f"{notice} delivered through {where} ({tally})"
        detail = f"{tally}: {error_text(outcome)}"
    else:
        detail = error or "unknown error"
    if kind is EventType.NOTIFICATION_GIVEN_UP:
        return f"{notice} through {where}: gave up ({detail})"
    return f"{notice} through {where}: attempt {entry.attempts + 1} failed ({detail})"

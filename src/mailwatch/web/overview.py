"""``/``: open tickets with their SLA countdowns and who acknowledged them, then every check,
worst first. Read-only; open to anonymous visitors with ``[web] public_status = true``."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from aiohttp import web

from mailwatch.domain.time import display_zone
from mailwatch.status.model import CheckView, StatusSnapshot, TicketView
from mailwatch.web.access import public_status
from mailwatch.web.clocks import countdown, when
from mailwatch.web.html import Viewer, esc, page, state_badge
from mailwatch.web.keys import HOST, session_of

REFRESH_S = 30
"""The overview fetches itself again this often even when nothing changed, for its clocks
and summaries (a meta refresh without JavaScript); changes come at once (``web/live.py``)."""


def _ticket_card(ticket: TicketView, now: datetime, zone: tzinfo | None, link: bool) -> str:
    name = f'<a href="/tickets/{esc(ticket.id)}">{esc(ticket.id)}</a>' if link else esc(ticket.id)
    acked = (
        f"acknowledged by {esc(ticket.acknowledged_by)} {when(ticket.acknowledged_at, now, zone)}"
        if ticket.acknowledged_by
        else "<strong>not acknowledged</strong>"
    )
    response = countdown(
        ticket.response_due,
        now,
        met=ticket.acknowledged_at is not None,
        breached=False,
        zone=zone,
    )
    resolution = countdown(
        ticket.resolution_due, now, met=ticket.state.value == "mitigated", breached=False, zone=zone
    )
    marks = f'data-ticket="{esc(ticket.id)}" data-ticket-state="{esc(ticket.state.value)}"'
    return f"""<div class="card ticket" {marks}>
<p><strong>{name}</strong> <span class="tag">severity {ticket.severity}</span>
<span class="tag">{esc(ticket.state.value)}</span></p>
<p>{esc(ticket.check)} <span class="meta">({esc(ticket.target)})</span>: {esc(ticket.summary)}</p>
<p class="meta">opened {when(ticket.opened_at, now, zone)}; {acked}</p>
<p class="meta">response {response}; resolution {resolution}</p>
</div>"""


def _check_card(check: CheckView, now: datetime, zone: tzinfo | None, link: bool) -> str:
    tags = ""
    if check.flapping:
        tags += '<span class="tag" data-mark="flapping">flapping</span>'
    if check.silenced_until is not None:
        tags += (
            f'<span class="tag" data-mark="quiet">quiet until '
            f"{when(check.silenced_until, now, zone)}</span>"
        )
    if check.below_quorum:
        tags += '<span class="tag" data-mark="below-quorum">below quorum</span>'
    stage = f"[{esc(check.stage)}] " if check.stage else ""
    what = f'<span class="meta">{esc(check.kind)} · {esc(check.target)}</span>'
    since = when(check.since, now, zone)
    last = when(check.last_run_at, now, zone)
    name = esc(check.name)
    if link:
        name = f'<a href="/checks/{name}">{name}</a>'
    marks = f'data-check="{esc(check.name)}" data-state="{esc(check.state.label)}"'
    return f"""<div class="card check" {marks}>
<p>{state_badge(check.state.label)} <strong>{name}</strong> {what}{tags}</p>
<p>{stage}{esc(check.summary or "no result yet")}</p>
<p class="meta">since {since}; last run {last}</p>
</div>"""


def render_overview(
    snapshot: StatusSnapshot,
    zone: tzinfo | None,
    viewer: Viewer,
    now: datetime,
    version: int | None = None,
) -> str:
    logged_in = viewer.user is not None
    tickets = "".join(_ticket_card(t, now, zone, logged_in) for t in snapshot.tickets)
    checks = "".join(_check_card(c, now, zone, logged_in) for c in snapshot.checks)
    body = f"""<div id="overview" data-live-region>
<h1 data-overall="{esc(snapshot.overall.label)}">Overall: {state_badge(snapshot.overall.label)}</h1>
<h2>Open tickets ({len(snapshot.tickets)})</h2>
{tickets or '<p class="meta">No open tickets.</p>'}
<h2>Checks ({len(snapshot.checks)})</h2>
{checks or '<p class="meta">No checks configured.</p>'}
<p class="meta">As of {when(snapshot.generated_at, now, zone)}; updates by itself.</p>
</div>"""
    return page(
        "Overview",
        body,
        viewer,
        refresh_s=REFRESH_S,
        live_version=version,
        live_refresh_s=REFRESH_S,
    )


@public_status
async def overview(request: web.Request) -> web.Response:
    host = request.app[HOST]
    snapshot = await host.snapshot()
    session = session_of(request)
    viewer = Viewer(session.user, session.csrf) if session else Viewer(None, None)
    now = datetime.now(UTC)
    zone = display_zone(host.config.incidents.timezone)
    version = host.status_version.number
    return web.Response(
        text=render_overview(snapshot, zone, viewer, now, version), content_type="text/html"
    )

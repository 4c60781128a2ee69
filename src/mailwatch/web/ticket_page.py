"""``/tickets/{id}``: one ticket's clocks, timeline and notices, with forms to acknowledge,
mitigate, resolve, or silence its check, each with a note and the session's CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from aiohttp import web

from mailwatch.domain.tickets import Ticket, format_number, parse_number
from mailwatch.domain.time import display_zone, local
from mailwatch.status.ticket import TicketDetail, read_ticket_detail
from mailwatch.web.clocks import countdown, when
from mailwatch.web.html import Viewer, esc, hidden_csrf, page
from mailwatch.web.keys import HOST, session_of
from mailwatch.web.rca_section import rca_section

FLASH = {
    "acknowledged": "Acknowledged.",
    "mitigated": "Marked mitigated.",
    "resolved": "Resolved.",
    "silenced": "Check silenced.",
}


CLOCKS_REFRESH_S = 30
"""With JavaScript, the clocks, timeline and notices are fetched again this often (and at
once when the status version moves); the forms are left alone, so a note being typed stays.
Without JavaScript the page does not reload itself, for the same reason."""


def ticket_number(request: web.Request) -> int:
    """The ticket the URL names; 404 for a malformed number."""
    prefix = request.app[HOST].config.incidents.ticket_prefix
    try:
        return parse_number(request.match_info["ticket"], prefix)
    except ValueError:
        raise web.HTTPNotFound(text="no such ticket") from None


def _clocks(t: Ticket, now: datetime, zone: tzinfo | None) -> str:
    if t.response_due is not None and not t.is_open and t.acknowledged_at is None:
        response = f"{esc(local(t.response_due, zone))} (not acknowledged before resolve)"
    else:
        response = countdown(
            t.response_due,
            now,
            met=t.acknowledged_at is not None,
            breached=t.response_breached,
            zone=zone,
        )
    resolution = countdown(
        t.resolution_due,
        now,
        met=t.mitigated_at is not None or not t.is_open,
        breached=t.resolution_breached,
        zone=zone,
    )

    def by(instant: datetime | None, who: str | None) -> str:
        return when(instant, now, zone) + (f" by {esc(who)}" if who and instant else "")

    rows = [
        ("check", f"{esc(t.check)} ({esc(t.target)})"),
        ("status", f"{esc(t.status.value)}, severity {t.severity}"),
        ("opened", when(t.opened_at, now, zone)),
        ("plan", esc(t.plan or "none")),
        ("response due", response + (" <strong>BREACHED</strong>" if t.response_breached else "")),
        (
            "resolution due",
            resolution + (" <strong>BREACHED</strong>" if t.resolution_breached else ""),
        ),
        ("acknowledged", by(t.acknowledged_at, t.acknowledged_by)),
        ("mitigated", by(t.mitigated_at, t.mitigated_by)),
        ("resolved", by(t.resolved_at, t.resolved_by)),
        ("last failure", (f"[{esc(t.last_stage)}] " if t.last_stage else "") + esc(t.last_summary)),
    ]
    if t.resolution_note:
        rows.append(("resolution note", esc(t.resolution_note)))
    items = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl id="clocks" class="clocks card" data-live-region>{items}</dl>'


def _timeline(detail: TicketDetail, zone: tzinfo | None) -> str:
    items = []
    for stored in detail.timeline:
        event = stored.event
        bits = []
        if event.note:
            bits.append(f"“{esc(event.note)}”")
        summary = event.payload.get("summary")
        if summary and event.type.value != "ticket_resolved":
            bits.append(esc(summary))
        if "severity" in event.payload and event.type.value in ("ticket_opened", "severity_raised"):
            bits.append(f"severity {esc(event.payload['severity'])}")
        text = "; ".join(bits)
        items.append(
            f'<li><span class="meta">{esc(local(event.at, zone))} · {esc(event.actor)}</span><br>'
            f"<strong>{esc(event.type.value.replace('_', ' '))}</strong>"
            f"{': ' + text if text else ''}</li>"
        )
    return f'<ol id="timeline" class="timeline" data-live-region>{"".join(items)}</ol>'


def _notices(detail: TicketDetail, now: datetime, zone: tzinfo | None) -> str:
    if not detail.notices:
        return '<p id="notices" class="meta" data-live-region>None kept.</p>'
    items = [
        f"<li>{esc(n.kind)} to <strong>{esc(n.route)}</strong>: {esc(n.status.value)}"
        + (f", delivered {when(n.delivered_at, now, zone)}" if n.delivered_at else "")
        + (f", {n.attempts} attempt(s)" if n.attempts else "")
        + "</li>"
        for n in detail.notices
    ]
    return f'<ul id="notices" class="card" data-live-region>{"".join(items)}</ul>'


def _form(
    number: str,
    verb: str,
    label: str,
    placeholder: str,
    csrf: str,
    *,
    required: bool,
    extra: str = "",
) -> str:
    need = " required" if required else ""
    return (
        f'<form class="card action" method="post" action="/tickets/{esc(number)}/{verb}">'
        f"{hidden_csrf(csrf)}{extra}"
        f'<label for="{verb}-note">{label}</label>'
        f'<textarea id="{verb}-note" name="note" maxlength="2000"{need} '
        f'placeholder="{esc(placeholder)}"></textarea>'
        f"<button>{verb.title() if verb != 'ack' else 'Acknowledge'}</button></form>"
    )


def _forms(number: str, t: Ticket, csrf: str) -> str:
    if not t.is_open:
        return '<p class="meta">The ticket is resolved.</p>'
    forms = []
    if t.acknowledged_at is None:
        forms.append(
            _form(
                number,
                "ack",
                "Acknowledge: someone is on it (stops the response clock)",
                "note (optional)",
                csrf,
                required=False,
            )
        )
    if t.mitigated_at is None:
        forms.append(
            _form(
                number,
                "mitigate",
                "Mitigate: a workaround is in place",
                "what was done",
                csrf,
                required=True,
            )
        )
    forms.append(
        _form(number, "resolve", "Resolve by hand", "why it is resolved", csrf, required=True)
    )
    duration = (
        f'<label for="silence-for">Silence the check {esc(t.check)} for</label>'
        '<input type="text" id="silence-for" name="for" value="1h" required>'
    )
    forms.append(
        _form(
            number,
            "silence",
            "Reason",
            "why nobody should be told",
            csrf,
            required=True,
            extra=duration,
        )
    )
    return "".join(forms)


def render_ticket(
    detail: TicketDetail,
    prefix: str,
    zone: tzinfo | None,
    viewer: Viewer,
    now: datetime,
    *,
    flash: str | None = None,
    error: str | None = None,
    sections: str = "",
    version: int | None = None,
) -> str:
    t = detail.ticket
    number = format_number(t.number, prefix)
    shown = ""
    if flash:
        shown += f'<p class="notice" role="status">{esc(flash)}</p>'
    if error:
        shown += f'<p class="error" role="alert">{esc(error)}</p>'
    body = f"""<h1>{esc(number)}: {esc(t.check)}</h1>
{shown}
{_clocks(t, now, zone)}
<h2>Act</h2>
{_forms(number, t, viewer.csrf or "")}
<h2>Timeline</h2>
{_timeline(detail, zone)}
<h2>Notices</h2>
{_notices(detail, now, zone)}
{sections}"""
    return page(number, body, viewer, live_version=version, live_refresh_s=CLOCKS_REFRESH_S)


async def ticket_page(request: web.Request) -> web.Response:
    host = request.app[HOST]
    number = ticket_number(request)
    detail = await read_ticket_detail(host.store, number)
    if detail is None:
        raise web.HTTPNotFound(text="no such ticket")
    session = session_of(request)
    assert session is not None  # login-only page
    zone = display_zone(host.config.incidents.timezone)
    # live.js fetching the page again (Sec-Fetch-Mode other than navigate) swaps only the live
    # regions: the root-cause section is not one, so reading it again would be work thrown away.
    refetch = request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate"
    sections = "" if refetch else await rca_section(host, number, datetime.now(UTC), zone)
    return web.Response(
        text=render_ticket(
            detail,
            host.config.incidents.ticket_prefix,
            zone,
            Viewer(session.user, session.csrf),
            datetime.now(UTC),
            flash=FLASH.get(request.query.get("done", "")),
            sections=sections,
            version=host.status_version.number,
        ),
        content_type="text/html",
    )

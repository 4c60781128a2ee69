"""``/ack/TOKEN``: the signed ack link of an opened or escalation notice.

GET only shows what the link would do (mail scanners and link previews open links, and an
acknowledgement they made would stop the response clock with nobody on it); the button on
that page POSTs, with a form nonce, and acknowledges on behalf of the route the notice went
to, through the same action as ``mailwatch ack``. No login is needed: the signed token is the
permission. An altered link is refused (403), an expired one too (410)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from mailwatch.domain.acklinks import AckLink, verify
from mailwatch.domain.errors import (
    AckLinkExpiredError,
    AckLinkRefusedError,
    AlreadyDoneError,
    TicketActionError,
    TicketNotFoundError,
)
from mailwatch.domain.tickets import Ticket, format_number
from mailwatch.domain.time import display_zone, local
from mailwatch.incidents.actions import acknowledge_ticket
from mailwatch.status.ticket import read_ticket_detail
from mailwatch.web.access import public
from mailwatch.web.forms import form_nonce, nonce_matches, set_nonce_cookie
from mailwatch.web.html import esc, page
from mailwatch.web.keys import HOST

log = logging.getLogger("mailwatch.web")


def link_actor(route: str) -> str:
    """Who an ack through a link is recorded as: the route the notice went to."""
    return f"{route} (ack link)"


def _answer(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=page(title, f"<h1>{esc(title)}</h1>{body}"), status=status, content_type="text/html"
    )


def _checked(request: web.Request) -> AckLink | web.Response:
    """The link in the URL, or the page that refuses it."""
    web_config = request.app[HOST].config.web
    if web_config.link_key is None:
        raise web.HTTPNotFound()
    key = web_config.link_key.get_secret_value().encode()
    try:
        return verify(key, request.match_info["token"], datetime.now(UTC))
    except AckLinkExpiredError as exc:
        zone = display_zone(request.app[HOST].config.incidents.timezone)
        return _answer(
            "Link expired",
            f'<p class="error">This ack link expired at {esc(local(exc.expires_at, zone))}. '
            "Log in to acknowledge the ticket from its page, or run "
            f'<code>mailwatch ack</code>.</p><p><a href="/login">Log in</a></p>',
            410,
        )
    except AckLinkRefusedError:
        log.warning("web: an ack link was refused: its signature does not match")
        return _answer(
            "Link not valid",
            '<p class="error">This ack link is not valid: it was changed or cut short, or '
            "the key that signs links has changed since it was sent. Nothing was done.</p>"
            '<p><a href="/login">Log in</a></p>',
            403,
        )


def _ticket_lines(ticket: Ticket, prefix: str) -> str:
    return (
        f'<div class="card"><p><strong>{esc(format_number(ticket.number, prefix))}</strong> '
        f'<span class="tag">severity {ticket.severity}</span> '
        f'<span class="tag">{esc(ticket.status.value)}</span></p>'
        f'<p>{esc(ticket.check)} <span class="meta">({esc(ticket.target)})</span>: '
        f"{esc(ticket.last_summary)}</p></div>"
    )


@public
async def confirm_page(request: web.Request) -> web.StreamResponse:
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    host = request.app[HOST]
    prefix = host.config.incidents.ticket_prefix
    detail = await read_ticket_detail(host.store, checked.ticket)
    if detail is None:
        return _answer("No such ticket", '<p class="error">The ticket is gone.</p>', 404)
    ticket = detail.ticket
    number = format_number(ticket.number, prefix)
    about = _ticket_lines(ticket, prefix)
    if not ticket.is_open or ticket.acknowledged_at is not None:
        by = ticket.acknowledged_by or ticket.resolved_by or "someone"
        done = "resolved" if not ticket.is_open else "acknowledged"
        return _answer(f"{number} is already {done}", f"{about}<p>By {esc(by)}.</p>")
    nonce = form_nonce(request)
    body = f"""{about}
<form class="card action" method="post" action="{esc(request.path)}">
<input type="hidden" name="nonce" value="{esc(nonce)}">
<p>Acknowledge {esc(number)} on behalf of route <strong>{esc(checked.route)}</strong>: someone
is on it, and the response clock stops.</p>
<button>Acknowledge {esc(number)}</button>
</form>"""
    response = _answer(f"Acknowledge {number}?", body)
    set_nonce_cookie(request, response, nonce)
    return response


@public
async def acknowledge(request: web.Request) -> web.StreamResponse:
    checked = _checked(request)
    if isinstance(checked, web.Response):
        return checked
    if not await nonce_matches(request):
        return _answer(
            "Form expired",
            '<p class="error">This form expired or was sent from elsewhere. Open the link '
            "again and press the button.</p>",
            403,
        )
    host = request.app[HOST]
    prefix = host.config.incidents.ticket_prefix
    number = format_number(checked.ticket, prefix)
    actor = link_actor(checked.route)
    try:
        await acknowledge_ticket(
            host.store,
            host.config,
            checked.ticket,
            actor,
            "acknowledged through the ack link of a notice",
            datetime.now(UTC),
        )
    except AlreadyDoneError as exc:
        by = f" by {esc(exc.by)}" if exc.by else ""
        return _answer(f"{number} is already {exc.done}", f"<p>Already {esc(exc.done)}{by}.</p>")
    except TicketNotFoundError:
        return _answer("No such ticket", '<p class="error">The ticket is gone.</p>', 404)
    except TicketActionError as exc:
        return _answer("Not acknowledged", f'<p class="error">{esc(exc)}</p>', 409)
    log.info("web: %s acknowledged by %s", number, actor)
    host.changed()
    return _answer(
        f"{number} acknowledged",
        f"<p>Acknowledged on behalf of route {esc(checked.route)}. The response clock has "
        "stopped.</p>",
    )


def ack_link_routes() -> list[web.RouteDef]:
    return [web.get("/ack/{token}", confirm_page), web.post("/ack/{token}", acknowledge)]

"""The forms of a ticket's page: acknowledge, mitigate, resolve, silence. Each goes through
the same actions (``incidents.actions``) and processor shell as ``mailwatch ack``; the actor is
the logged-in user. Success redirects back to the page (POST, redirect, GET)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from mailwatch.domain.errors import (
    AlreadyDoneError,
    TicketActionError,
    TicketNotFoundError,
    UnknownCheckError,
)
from mailwatch.domain.quiet import parse_silence_duration
from mailwatch.domain.tickets import format_number
from mailwatch.domain.time import display_zone
from mailwatch.incidents.actions import (
    acknowledge_ticket,
    mitigate_ticket,
    resolve_ticket,
    silence_check,
)
from mailwatch.status.ticket import read_ticket_detail
from mailwatch.web.html import Viewer
from mailwatch.web.keys import HOST, session_of
from mailwatch.web.ticket_page import render_ticket, ticket_number

log = logging.getLogger("mailwatch.web")

MAX_NOTE_CHARS = 2000


async def _note(request: web.Request) -> str:
    form = await request.post()
    return str(form.get("note", "")).strip()[:MAX_NOTE_CHARS]


async def _refused(
    request: web.Request, number: int, error: str | None, status: int, *, flash: str | None = None
) -> web.Response:
    host = request.app[HOST]
    detail = await read_ticket_detail(host.store, number)
    session = session_of(request)
    assert session is not None
    if detail is None:
        raise web.HTTPNotFound(text="no such ticket")
    return web.Response(
        text=render_ticket(
            detail,
            host.config.incidents.ticket_prefix,
            display_zone(host.config.incidents.timezone),
            Viewer(session.user, session.csrf),
            datetime.now(UTC),
            error=error,
            flash=flash,
        ),
        status=status,
        content_type="text/html",
    )


async def ticket_action(request: web.Request) -> web.StreamResponse:
    host = request.app[HOST]
    config = host.config
    session = session_of(request)
    assert session is not None  # login-only, CSRF checked by the middleware
    number = ticket_number(request)
    shown = format_number(number, config.incidents.ticket_prefix)
    verb = request.match_info["verb"]
    note = await _note(request)
    now = datetime.now(UTC)
    try:
        if verb == "ack":
            await acknowledge_ticket(host.store, config, number, session.user, note or None, now)
            done = "acknowledged"
        elif verb in ("mitigate", "resolve"):
            if not note:
                return await _refused(request, number, f"{verb.title()} needs a note.", 400)
            act = mitigate_ticket if verb == "mitigate" else resolve_ticket
            await act(host.store, config, number, session.user, note, now)
            done = "mitigated" if verb == "mitigate" else "resolved"
        else:
            return await _silence(request, number, note, now)
    except AlreadyDoneError as exc:
        # As `mailwatch ack` (exit 0): asking again for what is so changes nothing.
        by = f" by {exc.by}" if exc.by else ""
        return await _refused(request, number, None, 200, flash=f"Already {exc.done}{by}.")
    except TicketNotFoundError:
        raise web.HTTPNotFound(text="no such ticket") from None
    except TicketActionError as exc:
        return await _refused(request, number, str(exc), 409)
    log.info("web: %s %s by %s", shown, done, session.user)
    host.changed()
    raise web.HTTPSeeOther(f"/tickets/{shown}?done={done}")


async def _silence(
    request: web.Request, number: int, note: str, now: datetime
) -> web.StreamResponse:
    host = request.app[HOST]
    session = session_of(request)
    assert session is not None
    form = await request.post()
    detail = await read_ticket_detail(host.store, number)
    if detail is None:
        raise web.HTTPNotFound(text="no such ticket")
    if not note:
        return await _refused(request, number, "Silencing needs a reason.", 400)
    try:
        duration = parse_silence_duration(str(form.get("for", "")))
    except ValueError as exc:
        return await _refused(request, number, str(exc), 400)
    try:
        await silence_check(
            host.store, host.config, detail.ticket.check, duration, note, session.user, now
        )
    except UnknownCheckError as exc:
        return await _refused(request, number, str(exc), 409)
    shown = format_number(number, host.config.incidents.ticket_prefix)
    log.info("web: %s silenced for %s by %s", detail.ticket.check, duration, session.user)
    host.changed()
    raise web.HTTPSeeOther(f"/tickets/{shown}?done=silenced")


def ticket_routes() -> list[web.RouteDef]:
    from mailwatch.web.ticket_page import ticket_page

    return [
        web.get("/tickets/{ticket}", ticket_page),
        web.post("/tickets/{ticket}/{verb:ack|mitigate|resolve|silence}", ticket_action),
    ]

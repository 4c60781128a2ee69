"""The JSON API, ``/api/v1``: the status document, tickets and what people do to them,
silences. Programs (a chat bot, a ticket system) call it with a bearer token from
``[web.api_tokens]``; the token's name is the actor on the timeline. Each action goes through
the same processor shell as the CLI, so the API answers as ``mailwatch ack --json`` does.

The routes are the ones ``openapi.json`` (beside this module) describes; a test keeps the two
the same.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from mailwatch.domain.errors import (
    AlreadyDoneError,
    SilenceNotFoundError,
    TicketActionError,
    TicketNotFoundError,
    UnknownCheckError,
)
from mailwatch.domain.quiet import SILENCE_AT_MOST
from mailwatch.domain.tickets import MAX_NUMBER, format_number, parse_number
from mailwatch.incidents.actions import (
    acknowledge_ticket,
    expire_silence,
    mitigate_ticket,
    resolve_ticket,
    silence_check,
    silenceable_checks,
)
from mailwatch.status.document import to_document
from mailwatch.status.ticket import read_ticket_detail
from mailwatch.status.ticket_json import silence_dict, ticket_dict, ticket_document
from mailwatch.store.silences import active_silences
from mailwatch.store.tickets import list_tickets, load_ticket
from mailwatch.web.access import bearer
from mailwatch.web.api_auth import SCHEME, api_tokens, bearer_token, token_name
from mailwatch.web.api_body import Body
from mailwatch.web.api_errors import ApiError, json_errors
from mailwatch.web.clients import client_address
from mailwatch.web.keys import HOST, TOKEN_FAILURES
from mailwatch.web.openapi import openapi_document

log = logging.getLogger("mailwatch.web.api")

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024
"""A note is a few lines; anything near this is not a request the API means to take."""
LARGEST_ID = MAX_NUMBER
"""Ticket and silence ids are INTEGER columns (32-bit on PostgreSQL): larger ones name nothing
(and asking PostgreSQL for one would be an error, not "no such ticket")."""
SILENCE_AT_MOST_S = int(SILENCE_AT_MOST.total_seconds())
"""A silence lasts at most a year: longer quiet belongs in a maintenance window."""


ACTOR = web.RequestKey("mailwatch_api_actor", str)
"""The request key holding the name of the token that let the request in."""

QUERY = {"tickets": frozenset({"all"})}
"""The query parameters each route takes (by route name); the others take none."""

ANONYMOUS = frozenset({f"{PREFIX}/openapi.json"})
"""What the API answers without a token: its own description."""


def api_app() -> web.Application:
    """The API as an aiohttp application, to mount at ``/api/v1`` (``add_subapp``) in an
    application holding the ``WebHost`` (``keys.HOST``)."""
    app = web.Application(middlewares=[json_errors, _bearer_auth], client_max_size=MAX_BODY_BYTES)
    routes = [
        ("GET", "/openapi.json", _openapi, "openapi"),
        ("GET", "/status", _status, "status"),
        ("GET", "/tickets", _tickets, "tickets"),
        ("GET", "/tickets/{id}", _ticket, "ticket"),
        *(
            ("POST", f"/tickets/{{id}}/{verb}", _ticket_action(verb), verb)
            for verb in ("ack", "mitigate", "resolve")
        ),
        ("GET", "/silences", _silences, "silences"),
        ("POST", "/silences", _create_silence, "create_silence"),
        ("POST", "/silences/{id}/expire", _expire_silence, "expire_silence"),
    ]
    for method, path, handler, name in routes:
        # ``bearer``: the pages' login does not apply; _bearer_auth checks the token.
        app.router.add_route(method, path, bearer(handler), name=name)
    # Anything else under /api/v1 is a JSON 404 (after the token check), not the login page.
    app.router.add_route("*", "/{anything:.*}", bearer(_no_such_operation))
    return app


@web.middleware
async def _bearer_auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path in ANONYMOUS:
        return await handler(request)
    host = request.config_dict[HOST]
    presented = bearer_token(request.headers.get("Authorization"))
    if presented is None:
        raise ApiError(
            401,
            "this API needs a token: send the header Authorization: Bearer TOKEN "
            "with a token of [web.api_tokens]",
            {"WWW-Authenticate": f'{SCHEME} realm="mailwatch"'},
        )
    address = client_address(request, host.config.web.trusted_proxies)
    limiter = request.config_dict[TOKEN_FAILURES]
    wait_s = limiter.retry_after_s((address,))
    if wait_s is not None:
        # Refused before the token is compared, right or wrong: a guesser learns nothing.
        retry = max(1, math.ceil(wait_s))
        log.warning(
            "api: refused %s %s from %s: too many wrong tokens",
            request.method,
            request.path,
            address,
        )
        raise ApiError(
            429,
            f"too many wrong tokens from {address}; try again in {retry} s",
            {"Retry-After": str(retry)},
        )
    name = token_name(presented, api_tokens(host.config.web.api_tokens.items()))
    if name is None:
        limiter.failed((address,))
        # The token itself is never logged: only that one was refused, and from where.
        log.warning("api: refused a wrong token from %s for %s", address, request.path)
        raise ApiError(
            401,
            "the token is not one of [web.api_tokens]",
            {"WWW-Authenticate": f'{SCHEME} realm="mailwatch", error="invalid_token"'},
        )
    request[ACTOR] = name
    _check_query(request)
    return await handler(request)


def _check_query(request: web.Request) -> None:
    """Refuse query parameters the route does not take, and any given twice."""
    route = request.match_info.route.name or ""
    unknown = sorted(set(request.query) - QUERY.get(route, frozenset()))
    if unknown:
        shown = ", ".join(json.dumps(key) for key in unknown)
        raise ApiError(400, f"unknown query parameter(s): {shown}")
    repeated = sorted(key for key in set(request.query) if len(request.query.getall(key)) > 1)
    if repeated:
        shown = ", ".join(json.dumps(key) for key in repeated)
        raise ApiError(400, f"query parameter(s) given more than once: {shown}")


async def _no_such_operation(request: web.Request) -> web.Response:
    raise ApiError(404, f"no such operation: {request.method} {request.path}")


async def _openapi(request: web.Request) -> web.Response:
    config = request.config_dict[HOST].config
    return web.json_response(openapi_document(silenceable_checks(config)))


async def _status(request: web.Request) -> web.Response:
    snapshot = await request.config_dict[HOST].snapshot()
    return web.json_response(to_document(snapshot))


async def _tickets(request: web.Request) -> web.Response:
    host = request.config_dict[HOST]
    include_resolved = _flag(request, "all")
    async with host.store.read() as conn:
        found = await list_tickets(conn, include_resolved=include_resolved)
    prefix = host.config.incidents.ticket_prefix
    return web.json_response([ticket_dict(t, prefix) for t in found])


async def _ticket(request: web.Request) -> web.Response:
    host = request.config_dict[HOST]
    prefix = host.config.incidents.ticket_prefix
    number = _ticket_number(request, prefix)
    detail = await read_ticket_detail(host.store, number)
    if detail is None:
        raise ApiError(404, f"there is no ticket {format_number(number, prefix)}")
    document = ticket_document(detail.ticket, detail.timeline, detail.notices, prefix)
    return web.json_response(document)


def _ticket_action(verb: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    done = {"ack": "acknowledged", "mitigate": "mitigated", "resolve": "resolved"}[verb]

    async def handle(request: web.Request) -> web.Response:
        host = request.config_dict[HOST]
        config = host.config
        prefix = config.incidents.ticket_prefix
        number = _ticket_number(request, prefix)
        body = await Body.read(request, required=verb != "ack")
        note = body.text("note", required=verb != "ack")
        actor = _actor(request, body)
        body.done()
        now = datetime.now(UTC)
        changed = True
        try:
            if verb == "ack":
                await acknowledge_ticket(host.store, config, number, actor, note, now)
            elif verb == "mitigate":
                await mitigate_ticket(host.store, config, number, actor, note or "", now)
            else:
                await resolve_ticket(host.store, config, number, actor, note or "", now)
        except TicketNotFoundError as exc:
            raise ApiError(404, str(exc)) from None
        except AlreadyDoneError:
            changed = False  # asking again for what is so changes nothing, as in the CLI
        except TicketActionError as exc:
            raise ApiError(409, str(exc)) from None
        async with host.store.read() as conn:
            ticket = await load_ticket(conn, number)
        if ticket is None:  # deleted in between: only retention deletes tickets
            raise ApiError(404, f"there is no ticket {format_number(number, prefix)}")
        if changed:
            log.info("api: %s %s by %s", format_number(number, prefix), done, actor)
            host.changed()
        return web.json_response({**ticket_dict(ticket, prefix), "changed": changed})

    return handle


async def _silences(request: web.Request) -> web.Response:
    host = request.config_dict[HOST]
    async with host.store.read() as conn:
        active = await active_silences(conn, datetime.now(UTC))
    return web.json_response([silence_dict(s) for s in active])


async def _create_silence(request: web.Request) -> web.Response:
    host = request.config_dict[HOST]
    config = host.config
    body = await Body.read(request, required=True)
    check = body.name("check")
    duration = timedelta(seconds=body.whole_number("duration_s", 1, SILENCE_AT_MOST_S, "seconds"))
    reason = body.text("reason", required=True) or ""
    actor = _actor(request, body)
    body.done()
    try:
        change = await silence_check(
            host.store, config, check, duration, reason, actor, datetime.now(UTC)
        )
    except UnknownCheckError as exc:
        raise ApiError(400, f"check: {exc}") from None
    silence = change.silences[0]
    host.changed()
    log.info("api: silenced %s until %s by %s", silence.check, silence.until, actor)
    tickets = [format_number(n, config.incidents.ticket_prefix) for n in change.tickets]
    return web.json_response({**silence_dict(silence), "tickets": tickets}, status=201)


async def _expire_silence(request: web.Request) -> web.Response:
    host = request.config_dict[HOST]
    config = host.config
    silence_id = _silence_id(request)
    body = await Body.read(request, required=False)
    actor = _actor(request, body)
    body.done()
    try:
        expiry = await expire_silence(host.store, config, silence_id, actor, datetime.now(UTC))
    except SilenceNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    if expiry.ended_now:
        log.info("api: ended silence %d by %s", silence_id, actor)
        host.changed()
    tickets = [format_number(n, config.incidents.ticket_prefix) for n in expiry.tickets]
    return web.json_response(
        {**silence_dict(expiry.silence), "changed": expiry.ended_now, "tickets": tickets}
    )


def _actor(request: web.Request, body: Body) -> str:
    """Who acts: the token's name, or ``by`` (a person a bot acts for) with the token's name,
    so the timeline says both who and through what."""
    token: str = request[ACTOR]
    by = body.optional_name("by")
    return token if by is None or by == token else f"{by} via {token}"


def _flag(request: web.Request, key: str) -> bool:
    value = request.query.get(key, "false").lower()
    if value not in ("true", "false"):
        raise ApiError(400, f"query parameter {key} must be true or false, not {value!r}")
    return value == "true"


def _ticket_number(request: web.Request, prefix: str) -> int:
    text = request.match_info["id"]
    try:
        return parse_number(text, prefix)
    except ValueError as exc:
        raise ApiError(404, str(exc)) from None


def _silence_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= LARGEST_ID:
        raise ApiError(404, f"there is no silence {json.dumps(text)} (ids are whole numbers)")
    return int(text)

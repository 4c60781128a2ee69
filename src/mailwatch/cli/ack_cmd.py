"""``mailwatch ack``, ``mitigate`` and ``resolve``: a person moves a ticket along.

Each is one transaction on the same database the daemon writes, and each becomes an event on
the ticket's timeline with the actor (``--by``, default ``$SUDO_USER`` or ``$USER``) and note.
Asking again for what is already so (acknowledging an acknowledged ticket) changes nothing and
exits 0, so that a bot may repeat itself.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailwatch.domain.tickets import Ticket

_VERBS = {
    "ack": ("acknowledge a ticket: someone is on it (stops the response clock)", False),
    "mitigate": ("record a workaround in place (meets the resolution promise)", True),
    "resolve": ("resolve a ticket by hand, with a note saying why", True),
}


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    for verb, (help_text, note_required) in _VERBS.items():
        parser = commands.add_parser(verb, parents=[config_parent], help=help_text)
        parser.add_argument("ticket", metavar="TICKET", help="ticket number, e.g. MW-000123")
        parser.add_argument("--by", metavar="NAME", help="who (default: $SUDO_USER or $USER)")
        parser.add_argument(
            "--note", metavar="TEXT", required=note_required, help="what was done, and why"
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help='print the ticket as JSON, with "changed": false when it already was so',
        )
        parser.set_defaults(handler=run, verb=verb)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import (
        EXIT_BAD_INPUT,
        EXIT_REFUSED,
        default_actor,
        fail,
        with_store,
    )
    from mailwatch.domain.errors import AlreadyDoneError, TicketActionError, TicketNotFoundError
    from mailwatch.domain.tickets import format_number, parse_number
    from mailwatch.domain.time import display_zone, local
    from mailwatch.incidents.actions import acknowledge_ticket, mitigate_ticket, resolve_ticket
    from mailwatch.status.ticket_json import ticket_dict
    from mailwatch.store.tickets import load_ticket

    config = load_or_exit(args.config)
    prefix = config.incidents.ticket_prefix
    try:
        number = parse_number(args.ticket, prefix)
    except ValueError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    actor = (args.by or default_actor()).strip()
    note = args.note.strip() if args.note is not None else None
    if not actor:
        return fail("--by must not be empty", EXIT_BAD_INPUT)
    if args.verb != "ack" and not note:
        return fail(f"{args.verb} needs --note TEXT saying what was done", EXIT_BAD_INPUT)
    now = datetime.now(UTC)

    async def work(store: Any) -> tuple[AlreadyDoneError | None, Ticket | None]:
        try:
            if args.verb == "ack":
                await acknowledge_ticket(store, config, number, actor, note or None, now)
            elif args.verb == "mitigate":
                await mitigate_ticket(store, config, number, actor, note or "", now)
            else:
                await resolve_ticket(store, config, number, actor, note or "", now)
            unchanged = None
        except AlreadyDoneError as exc:
            unchanged = exc
        async with store.read() as conn:
            return unchanged, await load_ticket(conn, number)

    try:
        unchanged, ticket = with_store(config, work)
    except TicketNotFoundError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except TicketActionError as exc:
        return fail(str(exc), EXIT_REFUSED)
    name = format_number(number, prefix)
    if args.json and ticket is not None:
        print(json.dumps({**ticket_dict(ticket, prefix), "changed": unchanged is None}, indent=2))
    elif unchanged is None:
        done = {"ack": "acknowledged", "mitigate": "mitigated", "resolve": "resolved"}[args.verb]
        print(f"{name} {done} by {actor}")
    else:
        zone = display_zone(config.incidents.timezone)
        by = f" by {unchanged.by}" if unchanged.by else ""
        at = f" at {local(unchanged.at, zone)}" if unchanged.at else ""
        print(f"{name} already {unchanged.done}{by}{at}")
    return 0

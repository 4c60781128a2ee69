"""``mailwatch ack``, ``mitigate`` and ``resolve``: a person moves a ticket along.

Each is one transaction on the same database the daemon writes, and each becomes an event on
the ticket's timeline with the actor (``--by``, default ``$SUDO_USER`` or ``$USER``) and note.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

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
    from mailwatch.domain.errors import TicketActionError, TicketNotFoundError
    from mailwatch.domain.tickets import format_number, parse_number
    from mailwatch.incidents.actions import acknowledge_ticket, mitigate_ticket, resolve_ticket

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

    async def work(store: Any) -> None:
        if args.verb == "ack":
            await acknowledge_ticket(store, config, number, actor, note or None, now)
        elif args.verb == "mitigate":
            await mitigate_ticket(store, config, number, actor, note or "", now)
        else:
            await resolve_ticket(store, config, number, actor, note or "", now)

    try:
        with_store(config, work)
    except TicketNotFoundError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except TicketActionError as exc:
        return fail(str(exc), EXIT_REFUSED)
    done = {"ack": "acknowledged", "mitigate": "mitigated", "resolve": "resolved"}[args.verb]
    print(f"{format_number(number, prefix)} {done} by {actor}")
    return 0

"""``mailwatch show MW-000123``: a ticket's details, its SLA clocks and its timeline."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from mailwatch.domain.tickets import Ticket, format_number

if TYPE_CHECKING:
    # Annotations only: the store pulls in SQLAlchemy, which every other command (a
    # `mailwatch check` started per Nagios probe above all) would pay for at start-up.
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.status.rca import RootCause
    from mailwatch.store.outbox import OutboxEntry
    from mailwatch.store.tickets import StoredEvent


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "show", parents=[config_parent], help="show a ticket and its timeline"
    )
    parser.add_argument("ticket", metavar="TICKET", help="ticket number, e.g. MW-000123")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--rca",
        action="store_true",
        help="print the root-cause pack: the first failure, related checks around the opening, "
        "the evidence recorded then, the timeline and how the SLA ended",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, fail, with_store
    from mailwatch.domain.tickets import parse_number
    from mailwatch.domain.time import display_zone
    from mailwatch.status.ticket_json import notices_by_event, ticket_document
    from mailwatch.store.outbox import ticket_entries
    from mailwatch.store.tickets import load_ticket, load_timeline

    config = load_or_exit(args.config)
    prefix = config.incidents.ticket_prefix
    try:
        number = parse_number(args.ticket, prefix)
    except ValueError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    if args.rca:
        return _root_cause(config, number, args.json)

    async def work(
        store: Any,
    ) -> tuple[Ticket | None, list[StoredEvent], list[OutboxEntry]]:
        async with store.read() as conn:
            return (
                await load_ticket(conn, number),
                await load_timeline(conn, number),
                await ticket_entries(conn, number),
            )

    ticket, timeline, notices = with_store(config, work)
    if ticket is None:
        return fail(f"there is no ticket {format_number(number, prefix)}", EXIT_BAD_INPUT)
    if args.json:
        print(json.dumps(ticket_document(ticket, timeline, notices, prefix), indent=2))
        return 0
    caused = notices_by_event(timeline, notices)
    zone = display_zone(config.incidents.timezone)
    print(_details(ticket, timeline, caused, prefix, datetime.now(UTC), zone))
    return 0


def _details(
    ticket: Ticket,
    timeline: list[StoredEvent],
    rows: Callable[[StoredEvent], list[OutboxEntry] | None],
    prefix: str,
    now: datetime,
    zone: tzinfo | None,
) -> str:
    from mailwatch.cli.ticket_format import due, event_line
    from mailwatch.domain.time import ago, local

    def when(instant: datetime | None, who: str | None = None) -> str:
        if instant is None:
            return "-"
        by = f" by {who}" if who else ""
        return f"{local(instant, zone)} ({ago(instant, now)}){by}"

    def deadline(instant: datetime | None, met: bool, breached: bool) -> str:
        if instant is None:
            return "no target"
        state = due(instant, now, met=met, breached=breached)
        flag = " BREACHED" if breached and not met else ""
        return f"{local(instant, zone)} ({state}){flag}"

    t = ticket

    def response() -> str:
        if t.response_due is not None and not t.is_open and t.acknowledged_at is None:
            # Resolving stops the clock but is no response (acknowledging or mitigating is):
            # no time left to show, only whether the deadline passed first.
            flag = " BREACHED" if t.response_breached else ""
            return f"{local(t.response_due, zone)} (not acknowledged before resolve){flag}"
        return deadline(t.response_due, t.acknowledged_at is not None, t.response_breached)

    lines = [
        f"{format_number(t.number, prefix)}  severity {t.severity}  {t.status.value}",
        f"  check:           {t.check} (target {t.target})",
        f"  opened:          {when(t.opened_at)}",
        f"  plan:            {t.plan or 'none'}",
        f"  response due:    {response()}",
        "  resolution due:  "
        + deadline(
            t.resolution_due,
            t.mitigated_at is not None or not t.is_open,
            t.resolution_breached,
        ),
        f"  acknowledged:    {when(t.acknowledged_at, t.acknowledged_by)}",
        f"  mitigated:       {when(t.mitigated_at, t.mitigated_by)}",
        f"  resolved:        {when(t.resolved_at, t.resolved_by)}",
    ]
    if t.resolution_note:
        lines.append(f"  resolution note: {t.resolution_note}")
    if t.previous_ticket:
        lines.append(f"  previous ticket: {format_number(t.previous_ticket, prefix)}")
    stage = f"[{t.last_stage}] " if t.last_stage else ""
    lines.append(f"  last failure:    {stage}{t.last_summary}")
    lines.append("timeline:")
    lines += [event_line(item.event, zone, rows(item)) for item in timeline]
    return "\n".join(lines)


def _root_cause(config: MailwatchConfig, number: int, as_json: bool) -> int:
    from mailwatch.cli.rca_format import rca_text
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, fail, with_store
    from mailwatch.domain.time import display_zone
    from mailwatch.status.rca import rca_document, read_root_cause

    prefix = config.incidents.ticket_prefix
    now = datetime.now(UTC)

    async def work(store: Any) -> RootCause | None:
        return await read_root_cause(store, config, number, now)

    rca = with_store(config, work)
    if rca is None:
        return fail(f"there is no ticket {format_number(number, prefix)}", EXIT_BAD_INPUT)
    if as_json:
        print(json.dumps(rca_document(rca, prefix), indent=2))
    else:
        print(rca_text(rca, prefix, display_zone(config.incidents.timezone)))
    return 0

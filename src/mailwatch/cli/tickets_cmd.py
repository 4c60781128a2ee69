"""``mailwatch tickets``: open tickets (``--all``: every ticket), newest first."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from mailwatch.domain.tickets import Ticket, format_number


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "tickets", parents=[config_parent], help="list open tickets (--all: resolved ones too)"
    )
    parser.add_argument("--all", action="store_true", help="include resolved tickets")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import with_store
    from mailwatch.store.tickets import list_tickets

    config = load_or_exit(args.config)

    async def work(store: Any) -> list[Ticket]:
        async with store.read() as conn:
            return await list_tickets(conn, include_resolved=args.all)

    found = with_store(config, work)
    now = datetime.now(UTC)
    prefix = config.incidents.ticket_prefix
    if args.json:
        from mailwatch.status.ticket_json import ticket_dict

        print(json.dumps([ticket_dict(t, prefix) for t in found], indent=2))
        return 0
    if not found:
        print("no tickets" if args.all else "no open tickets")
        return 0
    print(_table(found, prefix, now, config.incidents.timezone))
    return 0


def _table(found: list[Ticket], prefix: str, now: datetime, zone_name: str | None) -> str:
    from mailwatch.cli.ticket_format import due
    from mailwatch.domain.time import ago, display_zone, local

    zone = display_zone(zone_name)
    rows = [("TICKET", "SEV", "STATE", "CHECK", "OPENED", "RESPONSE DUE", "SUMMARY")]
    for t in found:
        opened = f"{local(t.opened_at, zone)} ({ago(t.opened_at, now)})"
        if t.is_open:
            response = due(
                t.response_due,
                now,
                met=t.acknowledged_at is not None,
                breached=t.response_breached,
            )
        elif t.response_due is None:
            response = f"resolved {ago(t.resolved_at, now)}" if t.resolved_at else "resolved"
        elif t.acknowledged_at is None:
            # Resolving stops the clock but is no response: say whether the deadline passed.
            response = "not acknowledged" + (" BREACHED" if t.response_breached else "")
        else:
            response = due(t.response_due, now, met=True, breached=t.response_breached)
        rows.append(
            (
                format_number(t.number, prefix),
                str(t.severity),
                t.status.value,
                t.check,
                opened,
                response,
                t.last_summary[:80],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)

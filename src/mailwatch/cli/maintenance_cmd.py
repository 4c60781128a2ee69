"""``mailwatch maintenance list``: the maintenance windows planned, when each is announced
(``announce_before``) and whether the announcements went out."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.store.announcements import AnnouncementEntry


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "maintenance", help="maintenance windows: what is planned and what was announced"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        parents=[config_parent],
        help="windows running or starting within --days, with their announcements",
    )
    listing.add_argument(
        "--days", type=_days, default=30, help="how far ahead to look, in days (default 30)"
    )
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(handler=run)


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if not 1 <= value <= 366:
        raise argparse.ArgumentTypeError(f"--days must be 1 to 366, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit

    config = load_or_exit(args.config)
    now = datetime.now(UTC)
    rows = planned(config, now, timedelta(days=args.days), _stored(config, now))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no maintenance window within the next {args.days} days")
        return 0
    print(_table(rows, config, now))
    return 0


def _stored(config: MailwatchConfig, now: datetime) -> list[AnnouncementEntry]:
    """The announcements stored for occurrences not long over; none without a database (the
    daemon has not run, so nothing was announced)."""
    import asyncio

    from mailwatch.alerts.announcements import ENDED_WANTED_FOR
    from mailwatch.cli.store_session import EXIT_STORE, fail, store_url_or_exit
    from mailwatch.domain.errors import DatabaseMissingError, StoreError
    from mailwatch.store import Store
    from mailwatch.store.announcements import entries_since

    url = store_url_or_exit(config)

    async def read() -> list[AnnouncementEntry]:
        store = await Store.open(url, create=False)
        try:
            async with store.read() as conn:
                return await entries_since(conn, now - ENDED_WANTED_FOR)
        finally:
            await store.close()

    try:
        return asyncio.run(read())
    except DatabaseMissingError:
        return []
    except StoreError as exc:
        raise SystemExit(fail(str(exc), EXIT_STORE)) from None


def planned(
    config: MailwatchConfig,
    now: datetime,
    ahead: timedelta,
    stored: list[AnnouncementEntry],
) -> list[dict[str, Any]]:
    """One dict per occurrence running now or starting within ``ahead``, earliest first:
    its window, times, checks, announcement time and routes, and each phase's announcements
    as stored (``status`` per route; a phase not queued yet has none)."""
    from mailwatch.alerts.announcements import Phase, routes_for
    from mailwatch.domain.time import iso

    rows = []
    for window in config.maintenance:
        lead = window.announce_before
        for start, end in window.occurrences(now, now + ahead):
            mine = [e for e in stored if (e.key.window, e.key.starts_at) == (window.name, start)]
            announcements = {
                phase.value: {e.key.route: _status(e) for e in mine if e.key.phase == phase}
                for phase in Phase
            }
            routes = list(routes_for(window, config)) if lead is not None else []
            # Announced: the first notice (ahead, or started without a lead) reached every route.
            first = Phase.AHEAD if lead else Phase.STARTED
            told = announcements[first.value]
            rows.append(
                {
                    "window": window.name,
                    "starts_at": iso(start),
                    "ends_at": iso(end),
                    "active": start <= now < end,
                    "checks": list(window.checks),
                    "announce_at": iso(start - lead) if lead is not None else None,
                    "routes": routes,
                    "announced": bool(routes)
                    and all(told.get(r, {}).get("status") == "delivered" for r in routes),
                    "announcements": announcements,
                }
            )
    return sorted(rows, key=lambda r: (r["starts_at"], r["window"]))


def _status(entry: AnnouncementEntry) -> dict[str, Any]:
    from mailwatch.domain.time import iso

    return {
        "status": entry.status.value,
        "attempts": entry.attempts,
        "delivered_at": iso(entry.delivered_at),
        "last_error": entry.last_error,
    }


def _table(rows: list[dict[str, Any]], config: MailwatchConfig, now: datetime) -> str:
    from mailwatch.domain.time import ago, display_zone, local, parse_instant

    zone = display_zone(config.incidents.timezone)

    def when(value: str | None) -> str:
        instant = parse_instant(value)
        return "-" if instant is None else f"{local(instant, zone)} ({ago(instant, now)})"

    table = [("WINDOW", "STARTS", "ENDS", "CHECKS", "ANNOUNCE AT", "ANNOUNCED")]
    for row in rows:
        table.append(
            (
                row["window"] + (" (now)" if row["active"] else ""),
                when(row["starts_at"]),
                when(row["ends_at"]),
                ", ".join(row["checks"]),
                when(row["announce_at"]) if row["announce_at"] else "not announced",
                _told(row),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    lines = []
    for r in table:
        cells = [cell.ljust(width) for cell, width in zip(r, widths, strict=False)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    return "\n".join(lines)


def _told(row: dict[str, Any]) -> str:
    """``ahead: delivered to team; started: pending`` or ``no`` / ``not yet``."""
    if row["announce_at"] is None:
        return "-"
    parts = []
    for phase, routes in row["announcements"].items():
        if routes:
            told = ", ".join(f"{status['status']} to {route}" for route, status in routes.items())
            parts.append(f"{phase}: {told}")
    if parts:
        return "; ".join(parts)
    return "not yet" if row["routes"] else "no route takes it"

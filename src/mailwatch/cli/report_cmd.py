"""``mailwatch report --from DATE --to DATE``: the health report of a period, as Markdown, HTML
or PDF (docs/report.md)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

FORMATS = ("md", "html", "pdf")
LAYOUTS = ("monthly", "yearly")
EX_UNAVAILABLE = 69
"""sysexits.h: PDF asked for, but WeasyPrint (the report extra) or Pango is missing."""
EX_CANTCREAT = 73
"""sysexits.h: the output file cannot be written."""


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "report",
        parents=[config_parent],
        help="write the health report of a period: availability, latency, SLA, tickets",
        description=(
            "Availability (maintenance windows left out), latency percentiles by month, every "
            "ticket with its response and resolution met or breached, MTTA and MTTR, failure "
            "stages, certificate renewals and blocklist episodes of each check, from the "
            "stored history. Days and months are those of [incidents] timezone (UTC if unset)."
        ),
    )
    parser.add_argument(
        "--from", dest="start", required=True, metavar="DATE", help="first day, YYYY-MM-DD"
    )
    parser.add_argument(
        "--to", dest="end", required=True, metavar="DATE", help="last day (included), YYYY-MM-DD"
    )
    parser.add_argument(
        "--check",
        action="append",
        metavar="NAME",
        help="report on this check (repeat for more); default: every configured check",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="md, html or pdf (default: from --output's suffix, else md)",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="write the report here (default: standard output)"
    )
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="monthly (a bar per day) or yearly (a bar per month, a checks × months table); "
        "default: monthly up to 31 days, else yearly",
    )
    parser.set_defaults(handler=run)


def parse_day(text: str, option: str) -> date:
    """A day as YYYY-MM-DD; ``ValueError`` naming the option otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a date: expected YYYY-MM-DD") from None


def period(start: str, end: str, zone: tzinfo, history_days: int) -> tuple[datetime, datetime]:
    """[first day 00:00, the day after the last 00:00) in ``zone``, as UTC instants;
    ``ValueError`` for bad days or a period the history cannot cover."""
    from mailwatch.report.period import period_instants

    first = parse_day(start, "--from")
    last = parse_day(end, "--to")
    if last < first:
        raise ValueError(f"--to {last.isoformat()} is before --from {first.isoformat()}")
    return period_instants(first, last, zone, history_days)


_SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".pdf": "pdf"}


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower() if args.output else ""
    return _SUFFIXES.get(suffix, "md")


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, fail, with_store
    from mailwatch.domain.time import load_zone
    from mailwatch.report.load import load_histories
    from mailwatch.report.model import Layout, build_report

    config = load_or_exit(args.config)
    zone: tzinfo = load_zone(config.incidents.timezone) if config.incidents.timezone else UTC
    try:
        start, end = period(args.start, args.end, zone, config.store.history_days)
    except ValueError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    names = args.check or [check.name for check in config.checks]
    checks = []
    for name in dict.fromkeys(names):
        check = config.check_named(name)
        if check is None:
            known = ", ".join(c.name for c in config.checks) or "none"
            return fail(f"there is no check {name!r} (configured: {known})", EXIT_BAD_INPUT)
        checks.append(check)
    fmt = _format(args)
    if fmt == "pdf" and args.output is None and sys.stdout.isatty():
        return fail("a PDF is not for a terminal: give --output FILE", EXIT_BAD_INPUT)

    async def work(store: Any) -> Any:
        return await load_histories(store, config, checks, start, end, zone)

    histories = with_store(config, work)
    report = build_report(
        histories,
        start,
        end,
        zone=zone,
        layout=Layout(args.layout) if args.layout else None,
        now=datetime.now(UTC),
        ticket_prefix=config.incidents.ticket_prefix,
    )
    body: bytes
    if fmt == "pdf":
        from mailwatch.report.pdf import PdfUnavailable, render_pdf

        try:
            body = render_pdf(report)
        except PdfUnavailable as exc:
            return fail(str(exc), EX_UNAVAILABLE)
    elif fmt == "html":
        from mailwatch.report.html import render_html

        body = render_html(report).encode()
    else:
        from mailwatch.report.markdown import render_markdown

        body = render_markdown(report).encode()
    if args.output is None:
        sys.stdout.buffer.write(body)
        return 0
    try:
        Path(args.output).write_bytes(body)
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc.strerror or exc}", EX_CANTCREAT)
    return 0

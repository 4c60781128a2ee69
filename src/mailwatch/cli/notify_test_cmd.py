"""``mailwatch notify-test``: send a test message through one route or all, and say per URL
(masked) whether it got through. Route filters do not apply: the point is to test the pipe."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
from datetime import UTC, datetime
from typing import Any

EXIT_ALL_DELIVERED = 0
EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "notify-test",
        parents=[config_parent],
        help="send a test message through a route (or all routes) and report each URL",
    )
    parser.add_argument(
        "route", metavar="ROUTE", nargs="?", help="route name from [routes.NAME] (default: all)"
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        metavar="SECONDS",
        help="give up on a URL after this long (default: [alerts] timeout_s)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print each URL's outcome (masked) and the totals as JSON",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from mailwatch.alerts.masking import install_log_masking
    from mailwatch.alerts.routes import build_routes
    from mailwatch.cli.loading import load_or_exit, require_secrets

    # apprise's own lines only with -v: its warnings repeat the reasons we print per URL.
    install_log_masking(
        apprise_level=logging.DEBUG if args.verbose else logging.WARNING,
        apprise_propagate=args.verbose,
    )
    config = load_or_exit(args.config, route_urls=True)
    routes = build_routes(config)
    if not routes:
        print("mailwatch: no routes configured: add a [routes.NAME] section", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.route is not None and args.route not in routes:
        defined = ", ".join(routes)
        print(
            f"mailwatch: unknown route {args.route!r} (defined routes: {defined})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if args.timeout_s is not None and args.timeout_s <= 0:
        print("mailwatch: --timeout-s must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    chosen = [routes[args.route]] if args.route is not None else list(routes.values())
    require_secrets(args.config, [(f"routes.{route.name}", route.config) for route in chosen])
    timeout_s = args.timeout_s if args.timeout_s is not None else config.alerts.timeout_s
    return asyncio.run(_send_all(config, chosen, timeout_s, as_json=args.json))


async def _send_all(config: Any, chosen: list[Any], timeout_s: float, *, as_json: bool) -> int:
    from mailwatch.alerts.route_tests import send_test_notice

    now = datetime.now(UTC)
    host = socket.gethostname()
    delivered = total = 0
    outcomes: list[dict[str, Any]] = []
    for route in chosen:
        summary = (
            f"Sent by 'mailwatch notify-test' on {host} through route {route.name}. "
            "If you can read this, the route works."
        )
        outcome = await send_test_notice(
            config, route, summary, timeout_s, now, check="notify-test"
        )
        for url in outcome.per_url:
            total += 1
            delivered += url.ok
            outcomes.append(
                {"route": route.name, "url": url.masked_url, "ok": url.ok, "error": url.error}
            )
            if as_json:
                continue
            if url.ok:
                print(f"{route.name}: ok      {url.masked_url}")
            else:
                print(f"{route.name}: FAILED  {url.masked_url}: {url.error}")
    if as_json:
        report = {"urls": outcomes, "delivered": delivered, "total": total}
        print(json.dumps(report, indent=2))
    else:
        print(f"notify-test: {delivered} of {total} URL(s) delivered")
    return EXIT_ALL_DELIVERED if total and delivered == total else EXIT_SOME_FAILED

"""``mailwatch silence CHECK|all --for 2h --reason TEXT`` and ``mailwatch unsilence CHECK|all``.

A silence is ad hoc maintenance: results are recorded and tickets open, but nothing notifies
until it ends (or ``unsilence`` ends it); open tickets are then re-evaluated.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "silence",
        parents=[config_parent],
        help="hold back notifications of a check (or all) for a while",
    )
    parser.add_argument("check", metavar="CHECK", help='a check name, or "all"')
    parser.add_argument(
        "--for", dest="duration", required=True, metavar="DURATION", help="e.g. 30m, 2h, 1d"
    )
    parser.add_argument("--reason", required=True, metavar="TEXT", help="why, for the record")
    parser.add_argument("--by", metavar="NAME", help="who (default: $SUDO_USER or $USER)")
    parser.set_defaults(handler=run_silence)

    parser = commands.add_parser(
        "unsilence",
        parents=[config_parent],
        help="end the silences of a check (all: every silence)",
    )
    parser.add_argument("check", metavar="CHECK", help='a check name, or "all"')
    parser.add_argument("--by", metavar="NAME", help="who (default: $SUDO_USER or $USER)")
    parser.set_defaults(handler=run_unsilence)


def run_silence(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, default_actor, fail, with_store
    from mailwatch.domain.errors import UnknownCheckError
    from mailwatch.domain.quiet import parse_silence_duration
    from mailwatch.domain.time import display_zone, local
    from mailwatch.incidents.actions import SilenceChange, silence_check

    config = load_or_exit(args.config)
    try:
        duration = parse_silence_duration(args.duration)
    except ValueError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    reason = args.reason.strip()
    if not reason:
        return fail("--reason must say why", EXIT_BAD_INPUT)
    actor = args.by or default_actor()
    now = datetime.now(UTC)

    async def work(store: Any) -> SilenceChange:
        return await silence_check(store, config, args.check, duration, reason, actor, now)

    try:
        change = with_store(config, work)
    except UnknownCheckError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    silence = change.silences[0]
    zone = display_zone(config.incidents.timezone)
    print(f"silenced {silence.check} until {local(silence.until, zone)} (silence {silence.id})")
    return 0


def run_unsilence(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, default_actor, fail, with_store
    from mailwatch.domain.errors import UnknownCheckError
    from mailwatch.incidents.actions import SilenceChange, unsilence_check

    config = load_or_exit(args.config)
    actor = args.by or default_actor()
    now = datetime.now(UTC)

    async def work(store: Any) -> SilenceChange:
        return await unsilence_check(store, config, args.check, actor, now)

    try:
        change = with_store(config, work)
    except UnknownCheckError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    if not change.silences:
        print(f"no active silence for {args.check}")
        return 0
    for silence in change.silences:
        print(f"ended silence {silence.id} of {silence.check} ({silence.reason})")
    return 0

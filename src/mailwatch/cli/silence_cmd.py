"""``mailwatch silence CHECK|all --for 2h --reason TEXT``, ``silence list``, ``silence expire ID``
and ``mailwatch unsilence CHECK|all``.

A silence is ad hoc maintenance: results are recorded and tickets open, but nothing notifies
until it ends (or ``unsilence`` or ``silence expire`` ends it); open tickets are then
re-evaluated. ``list`` and ``expire`` are words, not check names, unless ``--for`` is given:
``silence list --for 2h --reason ...`` silences a check named ``list``.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.domain.quiet import Silence

USAGE = """
  %(prog)s CHECK|all --for DURATION --reason TEXT [--by NAME] [--json]
  %(prog)s list [--json]
  %(prog)s expire ID [--by NAME] [--json]"""


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "silence",
        parents=[config_parent],
        usage=USAGE,
        help="hold back notifications of a check (or all) for a while; list or expire silences",
        description=(
            "silence CHECK|all holds back the notices of a check (all: every check) for a "
            "while; tickets still open. silence list shows the active silences with their "
            "ids, silence expire ID ends one now."
        ),
    )
    parser.add_argument(
        "check", metavar="CHECK|list|expire", help='a check name or "all"; or list, or expire'
    )
    parser.add_argument(
        "silence_id", nargs="?", metavar="ID", help="with expire: the id silence list shows"
    )
    parser.add_argument(
        "--for", dest="duration", metavar="DURATION", help="how long, e.g. 30m, 2h, 1d"
    )
    parser.add_argument("--reason", metavar="TEXT", help="why, for the record")
    parser.add_argument("--by", metavar="NAME", help="who (default: $SUDO_USER or $USER)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)

    parser = commands.add_parser(
        "unsilence",
        parents=[config_parent],
        help="end the silences of a check (all: every silence)",
    )
    parser.add_argument("check", metavar="CHECK", help='a check name, or "all"')
    parser.add_argument("--by", metavar="NAME", help="who (default: $SUDO_USER or $USER)")
    parser.add_argument("--json", action="store_true", help="print the ended silences as JSON")
    parser.set_defaults(handler=run_unsilence)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, fail

    if args.duration is None and args.check == "list":
        extra = [
            name
            for name, value in (
                ("ID", args.silence_id),
                ("--reason", args.reason),
                ("--by", args.by),
            )
            if value is not None
        ]
        if extra:
            return fail(f"silence list takes no {', '.join(extra)}", EXIT_BAD_INPUT)
        return run_list(args)
    if args.duration is None and args.check == "expire":
        if args.reason is not None:
            return fail("silence expire takes no --reason", EXIT_BAD_INPUT)
        return run_expire(args)
    if args.silence_id is not None:
        return fail(f"unexpected argument {args.silence_id!r}", EXIT_BAD_INPUT)
    if args.duration is None or args.reason is None:
        return fail(
            f"silence {args.check} needs --for DURATION and --reason TEXT "
            "(or: silence list, silence expire ID)",
            EXIT_BAD_INPUT,
        )
    return run_silence(args)


def run_silence(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, default_actor, fail, with_store
    from mailwatch.domain.errors import UnknownCheckError
    from mailwatch.domain.quiet import parse_silence_duration
    from mailwatch.domain.time import display_zone, local
    from mailwatch.incidents.actions import SilenceChange, silence_check
    from mailwatch.status.ticket_json import silence_dict

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
    if args.json:
        tickets = _numbers(config, change.tickets)
        print(json.dumps({**silence_dict(silence), "tickets": tickets}, indent=2))
        return 0
    zone = display_zone(config.incidents.timezone)
    print(f"silenced {silence.check} until {local(silence.until, zone)} (silence {silence.id})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import with_store
    from mailwatch.domain.time import display_zone
    from mailwatch.status.ticket_json import silence_dict
    from mailwatch.store.silences import active_silences

    config = load_or_exit(args.config)
    now = datetime.now(UTC)

    async def work(store: Any) -> list[Silence]:
        async with store.read() as conn:
            return await active_silences(conn, now)

    active = with_store(config, work)
    if args.json:
        print(json.dumps([silence_dict(silence) for silence in active], indent=2))
    elif not active:
        print("no active silences")
    else:
        print(_table(active, now, display_zone(config.incidents.timezone)))
    return 0


def run_expire(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, default_actor, fail, with_store
    from mailwatch.domain.errors import SilenceNotFoundError
    from mailwatch.domain.time import display_zone, local
    from mailwatch.incidents.actions import SilenceExpiry, expire_silence
    from mailwatch.status.ticket_json import silence_dict

    if args.silence_id is None:
        return fail("silence expire needs the silence's ID (silence list shows it)", EXIT_BAD_INPUT)
    try:
        silence_id = int(args.silence_id)
    except ValueError:
        return fail(
            f"{args.silence_id!r} is not a silence ID (a number: silence list shows it)",
            EXIT_BAD_INPUT,
        )
    config = load_or_exit(args.config)
    actor = args.by or default_actor()
    now = datetime.now(UTC)

    async def work(store: Any) -> SilenceExpiry:
        return await expire_silence(store, config, silence_id, actor, now)

    try:
        expiry = with_store(config, work)
    except SilenceNotFoundError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    silence = expiry.silence
    if args.json:
        data = {
            **silence_dict(silence),
            "changed": expiry.ended_now,
            "tickets": _numbers(config, expiry.tickets),
        }
        print(json.dumps(data, indent=2))
        return 0
    zone = display_zone(config.incidents.timezone)
    if expiry.ended_now:
        print(f"ended silence {silence.id} of {silence.check} ({silence.reason})")
    elif silence.ended_at is not None and silence.ended_at < silence.until:
        by = f" by {silence.ended_by}" if silence.ended_by else ""
        print(f"silence {silence.id} already ended at {local(silence.ended_at, zone)}{by}")
    else:
        print(f"silence {silence.id} already ran out at {local(silence.until, zone)}")
    return 0


def run_unsilence(args: argparse.Namespace) -> int:
    from mailwatch.cli.loading import load_or_exit
    from mailwatch.cli.store_session import EXIT_BAD_INPUT, default_actor, fail, with_store
    from mailwatch.domain.errors import UnknownCheckError
    from mailwatch.incidents.actions import SilenceChange, unsilence_check
    from mailwatch.status.ticket_json import silence_dict

    config = load_or_exit(args.config)
    actor = args.by or default_actor()
    now = datetime.now(UTC)

    async def work(store: Any) -> SilenceChange:
        return await unsilence_check(store, config, args.check, actor, now)

    try:
        change = with_store(config, work)
    except UnknownCheckError as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    if args.json:
        ended = [
            {**silence_dict(s), "ended_at": now.isoformat(), "ended_by": actor}
            for s in change.silences
        ]
        print(json.dumps({"ended": ended, "tickets": _numbers(config, change.tickets)}, indent=2))
        return 0
    if not change.silences:
        print(f"no active silence for {args.check}")
        return 0
    for silence in change.silences:
        print(f"ended silence {silence.id} of {silence.check} ({silence.reason})")
    return 0


def _numbers(config: MailwatchConfig, numbers: list[int]) -> list[str]:
    from mailwatch.domain.tickets import format_number

    return [format_number(number, config.incidents.ticket_prefix) for number in numbers]


def _table(active: list[Silence], now: datetime, zone: tzinfo | None) -> str:
    from mailwatch.domain.time import ago, local

    rows = [("ID", "CHECK", "UNTIL", "BY", "REASON")]
    rows += [
        (
            str(s.id),
            s.check,
            f"{local(s.until, zone)} ({ago(s.until, now)})",
            s.created_by,
            s.reason,
        )
        for s in active
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )

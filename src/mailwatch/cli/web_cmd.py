"""``mailwatch web hash-password``: print an argon2 hash for ``[web.users.NAME] password_hash``.

The password is read from the terminal (asked twice, not echoed) or, when stdin is not a
terminal, from its first line; never from the command line, where ``ps`` and the shell's
history would show it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "web", parents=[config_parent], help="helpers for the web pages ([web])"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    hashing = actions.add_parser(
        "hash-password",
        parents=[config_parent],
        help="print an argon2 hash of a password read from the terminal or stdin",
        description="Print an argon2id hash for [web.users.NAME] password_hash. The password "
        "is asked for twice on a terminal, or read from the first line of stdin.",
    )
    hashing.set_defaults(handler=hash_password_cmd)


def _read_password() -> str | None:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            print("mailwatch: the passwords differ", file=sys.stderr)
            return None
        return first
    return sys.stdin.readline().rstrip("\r\n")


def hash_password_cmd(args: argparse.Namespace) -> int:
    del args
    from mailwatch.cli.store_session import EXIT_BAD_INPUT
    from mailwatch.web.passwords import hash_password

    try:
        password = _read_password()
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return EXIT_BAD_INPUT
    if password is None:
        return EXIT_BAD_INPUT
    if not password:
        print("mailwatch: the password is empty", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(hash_password(password))
    return 0

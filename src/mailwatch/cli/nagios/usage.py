"""Usage errors of a plugin run: argparse exits 2 (CRITICAL to Nagios) with its reason on
stderr; a plugin must say UNKNOWN (3) on stdout. Light: ``main`` imports it for every command."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Sequence

from mailwatch.cli.nagios.lines import status_line
from mailwatch.domain.results import State


def requested(argv: Sequence[str]) -> bool:
    """Whether the command line asks for plugin output (also as an abbreviation argparse takes)."""
    return any(arg.startswith("--na") and "--nagios".startswith(arg) for arg in argv)


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """``parser.parse_args``, but a usage error is an UNKNOWN status line and exit 3."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):
            raise  # --help, --version
        lines = said.getvalue().strip().splitlines() or ["invalid arguments"]
        print(status_line(State.UNKNOWN, lines[-1]), flush=True)
        raise SystemExit(int(State.UNKNOWN)) from None

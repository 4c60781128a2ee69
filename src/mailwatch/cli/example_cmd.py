"""``mailwatch example-config`` and ``mailwatch example-unit``: print the example config (it
documents every key) and the hardened systemd unit, as shipped with this version."""

from __future__ import annotations

import argparse
import sys
from typing import Any

_FILES = {
    "example-config": (
        "mailwatch.example.toml",
        "print the example config, which documents every key "
        "(mailwatch example-config > /etc/mailwatch/mailwatch.toml)",
    ),
    "example-unit": (
        "mailwatch.service",
        "print the hardened systemd unit "
        "(mailwatch example-unit > /etc/systemd/system/mailwatch.service)",
    ),
}


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    del config_parent  # they print what this version ships, whatever the config says
    for command, (name, help_text) in _FILES.items():
        parser = commands.add_parser(command, help=help_text, description=help_text)
        parser.set_defaults(handler=run, shipped_name=name)


def run(args: argparse.Namespace) -> int:
    from mailwatch.cli.shipped import shipped_bytes

    try:
        data = shipped_bytes(args.shipped_name)
    except FileNotFoundError as exc:
        print(f"mailwatch: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0

"""``mailwatch completion bash|zsh|tcsh``: a shell completion script generated from the
parser itself (by shtab), so it knows every subcommand and option of this version."""

from __future__ import annotations

import argparse
from typing import Any

SHELLS = ("bash", "zsh", "tcsh")


def add_parser(commands: Any, config_parent: argparse.ArgumentParser) -> None:
    del config_parent  # the script does not depend on the config
    parser = commands.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or tcsh)",
        description=(
            "Prints a completion script for SHELL. bash: mailwatch completion bash > "
            "/etc/bash_completion.d/mailwatch; zsh: mailwatch completion zsh > "
            "/usr/local/share/zsh/site-functions/_mailwatch"
        ),
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or tcsh")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import shtab

    parser: argparse.ArgumentParser = args.root_parser
    _complete_files(parser, shtab.FILE)
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _complete_files(parser: argparse.ArgumentParser, files: Any) -> None:
    """``-c FILE`` completes file names, in every subcommand."""
    for action in parser._actions:
        if "--config" in action.option_strings:
            action.complete = files  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _complete_files(subparser, files)

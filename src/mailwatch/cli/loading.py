"""Loading the config for a subcommand: one line per problem and exit 78 when it is invalid.

Every subcommand that reads the config calls ``load_or_exit``, so they all fail alike. Secrets
are read only by what uses them: ``run`` reads them all at load time; ``check`` and
``notify-test`` read those of the checks and routes they use (``require_secrets``); the ticket
commands, ``status`` and ``sla`` read none, so they work without the unit's credentials.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailwatch.config import MailwatchConfig


def load_or_exit(
    explicit: str | None,
    *,
    route_urls: bool = False,
    secrets: bool = False,
    as_json: bool = False,
) -> MailwatchConfig:
    """Load the config, or print one line per problem and exit 78 (EX_CONFIG).

    ``route_urls``: also ask apprise whether it can use every route URL (``validate`` and
    ``run`` do; other commands send no alerts and do not load apprise); a URL whose secret
    cannot be read here is left out. ``secrets``: read every secret now, one that cannot be
    read being a problem; otherwise they stay unread until used. ``as_json``: the problems go
    to stdout as ``{"ok": false, "config": PATH, "problems": [...]}``.
    """
    from mailwatch.config import EX_CONFIG, config_path, load_config
    from mailwatch.config.loader import one_line
    from mailwatch.config.secrets import SecretMode
    from mailwatch.domain.errors import ConfigError

    path = config_path(explicit)
    try:
        config = load_config(path, SecretMode.RESOLVE if secrets else SecretMode.LAZY)
        if route_urls:
            from mailwatch.alerts.route_urls import check_route_urls

            check_route_urls(path, config)
        return config
    except ConfigError as exc:
        from mailwatch.logsetup import stream_is_journal

        if as_json:
            import json

            report = {"ok": False, "config": str(path), "problems": exc.problems}
            print(json.dumps(report, indent=2))
            raise SystemExit(EX_CONFIG) from None
        # Under systemd (``ExecReload=`` runs ``mailwatch validate``) the lines go to the
        # journal at error priority, so ``journalctl -p err`` shows why a reload was refused.
        mark = "<3>" if stream_is_journal(sys.stderr) else ""
        # Escaped here too: route URL problems come from outside the loader.
        print(mark + one_line(f"mailwatch: invalid config {path}:"), file=sys.stderr)
        for problem in exc.problems:
            print(f"{mark}  {one_line(problem)}", file=sys.stderr)
        raise SystemExit(EX_CONFIG) from None


def require_secrets(explicit: str | None, parts: Sequence[tuple[str, object]]) -> None:
    """Read the secrets of the config ``parts`` a command is about to use (each with its key
    path, e.g. ``("checks.roundtrip[0]", check)``), or print one line per secret that cannot
    be read here, naming its key, and exit 78 (EX_CONFIG)."""
    from mailwatch.config import EX_CONFIG, config_path
    from mailwatch.config.loader import one_line, secret_problems

    problems = [line for where, part in parts for line in secret_problems(part, (where,))]
    if problems:
        print(one_line(f"mailwatch: invalid config {config_path(explicit)}:"), file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(EX_CONFIG)


def checks_with_keys(config: MailwatchConfig, checks: Sequence[object]) -> list[tuple[str, object]]:
    """Each of ``checks`` with its key path in the file (``checks.roundtrip[0]``), for
    ``require_secrets``."""
    keys = {}
    for kind in type(config.checks).model_fields:
        for index, check in enumerate(getattr(config.checks, kind)):
            keys[id(check)] = f"checks.{kind}[{index}]"
    return [(keys[id(check)], check) for check in checks]

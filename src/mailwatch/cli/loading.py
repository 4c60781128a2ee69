"""Loading the config for a subcommand: one line per problem and exit 78 when it is invalid.

Every subcommand that reads the config calls ``load_or_exit``, so they all fail alike.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailwatch.config import MailwatchConfig


def load_or_exit(
    explicit: str | None, *, route_urls: bool = False, as_json: bool = False
) -> MailwatchConfig:
    """Load the config, or print one line per problem and exit 78 (EX_CONFIG).

    ``route_urls``: also ask apprise whether it can use every route URL (``validate`` and
    ``run`` do; other commands send no alerts and do not load apprise). ``as_json``: the
    problems go to stdout as ``{"ok": false, "config": PATH, "problems": [...]}``.
    """
    from mailwatch.config import EX_CONFIG, config_path, load_config
    from mailwatch.config.loader import one_line
    from mailwatch.domain.errors import ConfigError

    path = config_path(explicit)
    try:
        config = load_config(path)
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

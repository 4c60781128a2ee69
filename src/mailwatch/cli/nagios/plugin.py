"""Running ``mailwatch check --nagios`` as a plugin: every outcome is one status line on
stdout and an exit code of 0 to 3. A bad config is UNKNOWN (3), never EX_CONFIG's 78; ``-t``
caps the whole run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading

from mailwatch.cli.nagios.lines import long_line, status_line
from mailwatch.cli.nagios.output import plugin_output
from mailwatch.cli.time_limit import TimeLimit
from mailwatch.domain.results import State, worst

DEFAULT_TIMEOUT_S = 50.0
"""Inside the 60 s that Nagios (``service_check_timeout``) and Icinga give a plugin by default."""


def run(args: argparse.Namespace) -> int:
    """The plugin: whatever happens, one status line, then the exit code."""
    if not args.verbose:
        # Icinga shows stderr with the output; a warning there would read as the check's.
        logging.disable(logging.CRITICAL)
    limit_s = args.timeout or DEFAULT_TIMEOUT_S
    limit = TimeLimit(limit_s, status_line(State.UNKNOWN, f"timed out after {limit_s:g} s (-t)"), 1)
    limit.start()
    try:
        output, code = _checked(args, limit)
    except Exception as exc:  # the plugin's promise: a status line, not a traceback
        output, code = status_line(State.UNKNOWN, f"{type(exc).__name__}: {exc}"), State.UNKNOWN
    if not limit.claim():
        threading.Event().wait()  # the limit is printing and ending the process
    print(output, flush=True)
    return int(code)


def _checked(args: argparse.Namespace, limit: TimeLimit) -> tuple[str, State]:
    from mailwatch.cli.loading import checks_with_keys
    from mailwatch.config import config_path, load_config
    from mailwatch.config.loader import one_line, secret_problems
    from mailwatch.config.secrets import SecretMode
    from mailwatch.domain.errors import ConfigError
    from mailwatch.runner import run_checks

    path = config_path(args.config)
    try:
        # Secrets stay unread until the chosen checks need them: a route URL the plugin's
        # user cannot read does not stop a check that needs none.
        config = load_config(path, SecretMode.LAZY)
    except ConfigError as exc:
        problems = [one_line(problem) for problem in exc.problems] or ["unreadable"]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        line = status_line(State.UNKNOWN, f"invalid config {path}: {problems[0]}{more}")
        return "\n".join([line, *map(long_line, problems[1:])]), State.UNKNOWN
    checks = config.enabled_checks()
    if args.names:
        by_name = {check.name: check for check in config.checks}
        unknown = [name for name in args.names if name not in by_name]
        if unknown:
            return status_line(State.UNKNOWN, f"no such check: {', '.join(unknown)}"), State.UNKNOWN
        checks = [by_name[name] for name in args.names]
    if not checks:
        return status_line(State.UNKNOWN, f"no checks configured in {path}"), State.UNKNOWN
    unread = [
        problem
        for where, check in checks_with_keys(config, checks)
        for problem in secret_problems(check, (where,))
    ]
    if unread:
        more = f" (and {len(unread) - 1} more)" if len(unread) > 1 else ""
        line = status_line(State.UNKNOWN, f"invalid config {path}: {unread[0]}{more}")
        return "\n".join([line, *map(long_line, unread[1:])]), State.UNKNOWN
    fitted = limit.fit(checks)
    results = asyncio.run(run_checks(fitted))
    by_name = {check.name: check for check in fitted}
    return plugin_output(results, by_name), worst(result.state for result in results)

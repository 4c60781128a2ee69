"""Running ``mailwatch check --nagios`` as a plugin: every outcome is one status line on
stdout and an exit code of 0 to 3. A bad config is UNKNOWN (3), never EX_CONFIG's 78; ``-t``
caps the whole run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import threading
import time

from mailwatch.cli.nagios.lines import long_line, status_line
from mailwatch.cli.nagios.output import plugin_output
from mailwatch.config.checks import CheckBase
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.results import State, worst

DEFAULT_TIMEOUT_S = 50.0
"""Inside the 60 s that Nagios (``service_check_timeout``) and Icinga give a plugin by default."""

RESERVE_S = 1.0
"""Kept from the checks' share of ``-t`` for writing the output and shutting down."""


class Watchdog:
    """Ends the process with UNKNOWN "timed out" if the run is not over within ``limit_s``.

    A thread, not an alarm signal: it fires also while the main thread is stuck in a system
    call (a hung NFS mount) that a signal handler would wait for. Whoever claims the output
    first, the run or the watchdog, is the only one to print.
    """

    def __init__(self, limit_s: float, *, plugin: bool = True) -> None:
        self.limit_s = limit_s
        self.plugin = plugin
        self.deadline = time.monotonic() + limit_s
        self._claimed = threading.Lock()
        self._timer = threading.Timer(limit_s, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def claim(self) -> bool:
        """True once: the caller may print and exit; the watchdog will not."""
        if not self._claimed.acquire(blocking=False):
            return False
        self._timer.cancel()
        return True

    def _fire(self) -> None:
        if self._claimed.acquire(blocking=False):
            said = f"timed out after {self.limit_s:g} s (-t)"
            if self.plugin:
                os.write(1, (status_line(State.UNKNOWN, said) + "\n").encode())
            else:
                os.write(2, f"mailwatch: {said}\n".encode())
            os._exit(int(State.UNKNOWN))


def within(check: CheckBase, budget_s: float) -> CheckBase:
    """``check`` with its timeout cut to ``budget_s`` if longer; a roundtrip check's wait for its
    canary shrinks with it, keeping room to clean up as its own config does."""
    if check.timeout_s <= budget_s:
        return check
    changes: dict[str, float] = {"timeout_s": budget_s}
    if isinstance(check, RoundtripCheck):
        room = min(check.timeout_s - check.deadline_s, budget_s / 4)
        changes["deadline_s"] = min(check.deadline_s, budget_s - room)
    return check.model_copy(update=changes)


def run(args: argparse.Namespace) -> int:
    """The plugin: whatever happens, one status line, then the exit code."""
    if not args.verbose:
        # Icinga shows stderr with the output; a warning there would read as the check's.
        logging.disable(logging.CRITICAL)
    watchdog = Watchdog(args.timeout or DEFAULT_TIMEOUT_S)
    watchdog.start()
    try:
        output, code = _checked(args, watchdog)
    except Exception as exc:  # the plugin's promise: a status line, not a traceback
        output, code = status_line(State.UNKNOWN, f"{type(exc).__name__}: {exc}"), State.UNKNOWN
    if not watchdog.claim():
        threading.Event().wait()  # the watchdog is printing and ending the process
    print(output, flush=True)
    return int(code)


def _checked(args: argparse.Namespace, watchdog: Watchdog) -> tuple[str, State]:
    from mailwatch.config import config_path, load_config
    from mailwatch.config.loader import one_line
    from mailwatch.domain.errors import ConfigError
    from mailwatch.runner import run_checks

    path = config_path(args.config)
    try:
        config = load_config(path)
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
    budget_s = watchdog.remaining_s() - RESERVE_S
    if budget_s <= 0:
        return status_line(State.UNKNOWN, "no time left to run checks (-t)"), State.UNKNOWN
    fitted = [within(check, budget_s) for check in checks]
    results = asyncio.run(run_checks(fitted))
    by_name = {check.name: check for check in fitted}
    return plugin_output(results, by_name), worst(result.state for result in results)

"""A time limit on a whole ``mailwatch check`` run (``-t``): checks' own timeouts are fitted
into it, and if the run is still going at the limit, the process says so and exits 3."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from mailwatch.config.checks import CheckBase
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.results import State

RESERVE_S = 1.0
"""Kept from the checks' share of ``-t`` for writing the output and shutting down."""

MIN_BUDGET_S = 0.1
"""What a check is given when the limit is all but spent (the limit then ends the run)."""


class TimeLimit:
    """Ends the process, exit 3 and ``said`` on ``fd``, if the run is not over within
    ``limit_s``.

    A thread, not an alarm signal: it fires also while the main thread is stuck in a system
    call (a hung NFS mount) that a signal handler would wait for. Whoever claims the output
    first, the run or the limit, is the only one to print.
    """

    def __init__(self, limit_s: float, said: str, fd: int) -> None:
        self.limit_s = limit_s
        self._said = said
        self._fd = fd
        self.deadline = time.monotonic() + limit_s
        self._claimed = threading.Lock()
        self._timer = threading.Timer(limit_s, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def fit(self, checks: Sequence[CheckBase]) -> list[CheckBase]:
        """``checks`` with their timeouts cut to the time left, less ``RESERVE_S``."""
        budget_s = max(self.remaining_s() - RESERVE_S, MIN_BUDGET_S)
        return [within(check, budget_s) for check in checks]

    def claim(self) -> bool:
        """True once: the caller may print and exit; the time limit will not."""
        if not self._claimed.acquire(blocking=False):
            return False
        self._timer.cancel()
        return True

    def _fire(self) -> None:
        if self._claimed.acquire(blocking=False):
            os.write(self._fd, (self._said + "\n").encode())
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

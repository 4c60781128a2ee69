"""Failed logins counted per user and per client address in a sliding window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

MAX_KEYS = 100_000
"""Keys tracked at most: a flood of new addresses cannot grow memory without bound."""


class FailureLimiter:
    """After ``attempts()`` failures of one key within ``window_s()``, that key waits until its
    oldest failure leaves the window."""

    def __init__(
        self,
        attempts: Callable[[], int],
        window_s: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts = attempts
        self._window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        while found and now - found[0] >= self._window_s():
            found.popleft()
        if not found:
            del self._failures[key]
        return found

    def retry_after_s(self, keys: Iterable[str]) -> float | None:
        """Seconds until every key may try again; None when none is blocked."""
        now = self._clock()
        waits = [
            self._window_s() - (now - recent[0])
            for key in keys
            if len(recent := self._recent(key, now)) >= self._attempts()
        ]
        return max(waits) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            recent = self._recent(key, now)
            if key not in self._failures:
                if len(self._failures) >= MAX_KEYS:
                    self._forget_oldest()
                self._failures[key] = recent
            recent.append(now)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _forget_oldest(self) -> None:
        oldest = min(
            self._failures, key=lambda k: self._failures[k][-1] if self._failures[k] else 0
        )
        del self._failures[oldest]

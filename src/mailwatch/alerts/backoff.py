"""When a failed notice is tried again: exponential backoff with jitter, capped.

Pure arithmetic; the caller draws the jitter, so tests pin it.
"""

from __future__ import annotations

import random

JITTER_LOW = 0.5
JITTER_HIGH = 1.5


def draw_jitter() -> float:
    """A factor in [0.5, 1.5): spreads the retries of many rows that failed together."""
    return random.uniform(JITTER_LOW, JITTER_HIGH)


def retry_delay_s(attempts: int, initial_s: float, max_s: float, jitter: float = 1.0) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the first):
    ``min(max_s, initial_s · 2^(attempts − 1) · jitter)``."""
    if attempts < 1:
        raise ValueError(f"attempts counts from 1, got {attempts}")
    # Past 2^40 the product only overflows to the cap anyway.
    exponent = min(attempts - 1, 40)
    return float(min(max_s, initial_s * (2**exponent) * jitter))

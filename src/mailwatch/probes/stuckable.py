"""Blocking calls that may never return, kept from tying up the daemon.

``statvfs`` on a hard-mounted network filesystem whose server is gone waits in the kernel
until the server comes back, and no timeout or cancellation reaches it. Run through
``asyncio.to_thread`` such a call holds a thread of the loop's shared pool for good; a check
every minute fills the pool (a handful of threads) within minutes, after which the status file,
the dead man's switch and alert delivery, which use the same pool, wait behind it forever, and
shutdown waits for the pool too.

``call`` runs each call in a thread of its own, marked daemon so that shutdown does not wait
for it, and keyed by what it touches. While a call for a key has not returned, another call
for that key starts no thread and raises ``StillBlocked`` at once: at most one thread per key is
ever stuck, however many runs come and go.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")

_started: dict[str, float] = {}
"""Key -> ``time.monotonic()`` when its call, not yet returned, began."""
_lock = threading.Lock()


class StillBlocked(Exception):
    """The previous call for ``key`` has not returned after ``stuck_s`` seconds."""

    def __init__(self, key: str, stuck_s: float) -> None:
        super().__init__(f"{key}: the previous call has not returned after {stuck_s:.0f} s")
        self.key = key
        self.stuck_s = stuck_s


def stuck_keys() -> dict[str, float]:
    """Keys whose call has not returned, with how many seconds each has been running."""
    now = time.monotonic()
    with _lock:
        return {key: now - since for key, since in _started.items()}


async def call(key: str, fn: Callable[[], T]) -> T:
    """``fn()`` in its own daemon thread; ``StillBlocked`` if ``key``'s last call is still out.

    Cancelling the await (a probe's timeout) leaves the thread to finish on its own; its
    outcome is then dropped.
    """
    loop = asyncio.get_running_loop()
    with _lock:
        since = _started.get(key)
        if since is not None:
            raise StillBlocked(key, time.monotonic() - since)
        _started[key] = time.monotonic()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting task, which decides
            error = exc
        finally:
            with _lock:
                _started.pop(key, None)
        with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result, error)

    try:
        threading.Thread(target=work, name=f"mailwatch: {key}", daemon=True).start()
    except BaseException:
        with _lock:
            _started.pop(key, None)
        raise
    return await future

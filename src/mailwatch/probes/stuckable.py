"""Blocking calls that may never return, kept from tying up the daemon.

``statvfs`` on a hard-mounted network filesystem whose server is gone waits in the kernel
until the server comes back, and no timeout or cancellation reaches it. Run through
``asyncio.to_thread`` such a call holds a thread of the loop's shared pool for good; a check
every minute fills the pool (a handful of threads) within minutes, after which the status file,
the dead man's switch and alert delivery, which use the same pool, wait behind it forever, and
shutdown waits for the pool too.

``call`` runs each call in a thread of its own, marked daemon so that shutdown does not wait
for it, and keyed by what it touches. A call for a key whose earlier call has not returned
starts no thread: it waits for that same call (two checks watching one mount share it). So at
most one thread per key is ever stuck, however many runs come and go; ``running_for`` tells a
caller how long the call in flight has been out, so it need not wait for one known to hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

_calls: dict[str, tuple[float, concurrent.futures.Future[Any]]] = {}
"""Key -> (``time.monotonic()`` at its start, its outcome) of each call not yet returned."""
_lock = threading.Lock()


def running_for(key: str) -> float | None:
    """Seconds the call in flight for ``key`` has been running; None when there is none."""
    with _lock:
        entry = _calls.get(key)
    return None if entry is None else time.monotonic() - entry[0]


async def call(key: str, fn: Callable[[], T]) -> T:
    """``fn()`` in its own daemon thread, or the outcome of ``key``'s call already in flight.

    Cancelling the await (a probe's timeout) leaves the thread to finish on its own. ``fn``'s
    exception is raised here; a ``BaseException`` that is not an ``Exception`` (``SystemExit``
    in a library) is raised as a ``RuntimeError``, so it cannot end the daemon from a probe.
    """
    with _lock:
        entry = _calls.get(key)
        if entry is None:
            outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
            # Running from the start: a cancelled waiter cannot cancel the shared outcome.
            outcome.set_running_or_notify_cancel()
            _calls[key] = (time.monotonic(), outcome)
            start = True
        else:
            outcome, start = entry[1], False
    if start:
        try:
            thread = threading.Thread(
                target=_work, args=(key, fn, outcome), name=f"mailwatch: {key}", daemon=True
            )
            thread.start()
        except BaseException as exc:
            _settle(key, outcome, None, RuntimeError(f"cannot start a thread for {key}: {exc}"))
            raise
    return cast(T, await asyncio.wrap_future(outcome))


def _work(key: str, fn: Callable[[], Any], outcome: concurrent.futures.Future[Any]) -> None:
    try:
        result = fn()
    except StopIteration as exc:  # an asyncio future cannot carry StopIteration
        _settle(key, outcome, None, RuntimeError(f"{key}: StopIteration {exc}"))
    except Exception as exc:
        _settle(key, outcome, None, exc)
    except BaseException as exc:
        _settle(key, outcome, None, RuntimeError(f"{key}: {type(exc).__name__} {exc}"))
    else:
        _settle(key, outcome, result, None)


def _settle(
    key: str,
    outcome: concurrent.futures.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    with _lock:
        if _calls.get(key, (0.0, None))[1] is outcome:
            del _calls[key]
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(result)

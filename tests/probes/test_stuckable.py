"""``mailwatch.probes.stuckable``: one thread per key however many callers, outcomes passed on,
and a caller that gives up leaves the call to finish on its own. Plain functions that block on
an event stand in for a hung ``statvfs`` here (tests/probes/test_resources_hung_mount.py has
the real one)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mailwatch.probes import stuckable


def _threads(key: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"mailwatch: {key}"]


async def test_callers_of_one_key_share_one_call() -> None:
    release, calls = threading.Event(), []

    def blocked() -> str:
        calls.append(1)
        release.wait(10)
        return "figures"

    waiting = [asyncio.ensure_future(stuckable.call("k-share", blocked)) for _ in range(5)]
    await asyncio.sleep(0)
    running = stuckable.running_for("k-share")
    assert running is not None and running >= 0
    assert len(_threads("k-share")) == 1
    release.set()
    assert await asyncio.gather(*waiting) == ["figures"] * 5
    assert calls == [1]
    assert stuckable.running_for("k-share") is None


async def test_a_caller_that_gives_up_leaves_the_call_to_a_later_one() -> None:
    release = threading.Event()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stuckable.call("k-later", lambda: release.wait(10)), 0.1)
    later = asyncio.ensure_future(stuckable.call("k-later", lambda: "a second call"))
    await asyncio.sleep(0)  # one turn of the loop: the task starts and finds the call in flight
    assert len(_threads("k-later")) == 1
    release.set()
    # The later caller joined the first call, still in flight when it came.
    assert await asyncio.wait_for(later, 10) is True


async def test_the_calls_exception_is_raised_to_the_caller() -> None:
    def broken() -> None:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        await stuckable.call("k-error", broken)
    assert stuckable.running_for("k-error") is None


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), StopIteration()])
async def test_an_exit_inside_the_call_cannot_end_the_caller(exc: BaseException) -> None:
    def exits() -> None:
        raise exc

    with pytest.raises(RuntimeError, match=type(exc).__name__):
        await asyncio.wait_for(stuckable.call(f"k-{type(exc).__name__}", exits), 10)

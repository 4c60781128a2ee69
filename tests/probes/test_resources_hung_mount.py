"""A mount that never answers (a hard NFS mount whose server is gone), on a real kernel mount:
the resources check names it, measures the rest, ties up one thread however often it runs,
and lets go once the mount does. See helpers/hung_mount.py for how the mount is made."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.hung_mount import HungMount, hung_mount_or_skip
from mailwatch.config import MailwatchConfig
from mailwatch.config.checks.resources import DEFAULT_LEVELS, ResourcesCheck
from mailwatch.domain.results import State
from mailwatch.probes.resources import MOUNT_WAIT_S
from mailwatch.runner import run_check


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[HungMount]:
    with hung_mount_or_skip(tmp_path / "nfs") as mount:
        yield mount
    # The connection is aborted now: the stuck call returns, and its thread ends.
    path = tmp_path / "nfs"
    for thread in _stuck_threads(path):
        thread.join(10)
    assert not _stuck_threads(path), "the stuck statvfs did not return after the abort"


@pytest.fixture
def hung(mount: HungMount) -> Path:
    return mount.path


def _stuck_threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"mailwatch: statvfs {path}"]


FIGURES_OFF = {key: {"warning": "off", "critical": "off"} for key in DEFAULT_LEVELS}
"""Every level switched off: these tests are about the mount, and a busy machine (CPU at 100 %
while the suite runs) or a full disk would otherwise make the check critical/cpu or disk."""


def resources_check(mounts: list[str], **overrides: Any) -> ResourcesCheck:
    data: dict[str, Any] = {
        "name": "host",
        "cpu_sample_s": 0.2,
        "mounts": mounts,
        **FIGURES_OFF,
        **overrides,
    }
    return MailwatchConfig.model_validate({"checks": {"resources": [data]}}).checks.resources[0]


async def test_a_hung_mount_is_named_and_the_other_mounts_are_still_measured(hung: Path) -> None:
    check = resources_check(["/", str(hung)])
    started = time.monotonic()
    result = await run_check(check)
    elapsed = time.monotonic() - started
    # Its own verdict, not the check's timeout (30 s): the hung mount is named.
    assert (result.state, result.stage) == (State.UNKNOWN, "mount_unreadable"), result.summary
    assert result.summary == (
        f"{hung} does not answer: no statvfs reply within {MOUNT_WAIT_S:g} s "
        "(a hung network filesystem?)"
    )
    assert "disk_root_percent" in result.metrics
    assert MOUNT_WAIT_S <= elapsed < check.timeout_s


async def test_a_stuck_mount_holds_one_thread_however_many_runs(hung: Path) -> None:
    check = resources_check([str(hung)])
    memory: dict[str, Any] = {}
    first = await run_check(check, memory)
    assert first.stage == "mount_unreadable"
    for _ in range(10):
        started = time.monotonic()
        later = await run_check(check, memory)
        # No new wait either: the mount is known to be stuck.
        assert time.monotonic() - started < MOUNT_WAIT_S
        assert (later.state, later.stage) == (State.UNKNOWN, "mount_unreadable")
        assert later.summary.startswith(f"{hung} does not answer: its statvfs has been stuck for")
    assert len(_stuck_threads(hung)) == 1
    # The loop's shared thread pool, which the daemon's status writes use, is still free.
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 5) == "free"


async def test_a_short_timeout_still_names_the_hung_mount(hung: Path) -> None:
    check = resources_check([str(hung)], timeout_s=2.5)
    result = await run_check(check)
    assert (result.state, result.stage) == (State.UNKNOWN, "mount_unreadable"), result.summary
    assert f"{hung} does not answer" in result.summary


async def test_two_checks_on_one_hung_mount_share_its_thread(hung: Path) -> None:
    first, second = resources_check([str(hung)]), resources_check(["/", str(hung)])
    results = await asyncio.gather(run_check(first), run_check(second))
    for result in results:
        assert (result.state, result.stage) == (State.UNKNOWN, "mount_unreadable")
        assert result.summary.startswith(f"{hung} does not answer"), result.summary
    assert "disk_root_percent" in results[1].metrics
    assert len(_stuck_threads(hung)) == 1


async def test_a_mount_whose_server_died_is_unreadable_and_the_rest_measured(
    mount: HungMount,
) -> None:
    # Calls on an aborted connection fail at once with ENOTCONN, as on a soft NFS mount whose
    # server is gone (EIO): the mount is named, the host and / are still measured.
    mount.abort()
    result = await run_check(resources_check(["/", str(mount.path)]))
    assert (result.state, result.stage) == (State.UNKNOWN, "mount_unreadable"), result.summary
    assert result.summary == f"cannot read {mount.path}: Transport endpoint is not connected"
    assert "disk_root_percent" in result.metrics
    assert "cpu_percent" in result.metrics


async def test_the_mount_is_measured_again_once_it_answers(mount: HungMount) -> None:
    check = resources_check([str(mount.path)])
    memory: dict[str, Any] = {}
    assert (await run_check(check, memory)).summary.startswith(f"{mount.path} does not answer")
    mount.abort()  # the server is back, in kind: the stuck call returns
    for thread in _stuck_threads(mount.path):
        thread.join(10)
    again = await run_check(check, memory)
    assert again.summary == f"cannot read {mount.path}: Transport endpoint is not connected"

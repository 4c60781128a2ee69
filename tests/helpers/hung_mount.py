"""A real mount that never answers, like a hard-mounted NFS share whose server is gone.

The kernel's FUSE driver is given a connection (``/dev/fuse``) that nobody serves: every
operation on the mount, ``stat`` and ``statvfs`` included, waits in the kernel for a reply
that never comes, and no signal or timeout ends the wait. Aborting the connection (closing it)
releases them: the waiting calls, and every later one while the mount stays, fail with ENOTCONN,
as calls on a soft NFS mount whose server died fail with EIO. Needs root (or CAP_SYS_ADMIN)
and /dev/fuse; no FUSE library.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

_MS_NOSUID = 2
_MS_NODEV = 4
_MNT_DETACH = 2


class MountFailed(Exception):
    pass


@dataclass
class HungMount:
    path: Path
    _fd: int
    _closed: threading.Lock

    def abort(self) -> None:
        """Abort the connection: stuck calls return, later ones fail with ENOTCONN."""
        if self._closed.acquire(blocking=False):
            os.close(self._fd)


@contextmanager
def hung_mount(where: Path, release_after_s: float = 120.0) -> Iterator[HungMount]:
    """Mount a never-answering filesystem on ``where`` (created if missing); on exit, abort the
    connection (releasing every stuck call) and detach the mount.

    A watchdog aborts the connection after ``release_after_s`` in any case, so that code which
    waits for a stuck call (the fault under test) fails the test instead of hanging the run.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    where.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
    except OSError as exc:
        raise MountFailed(f"cannot open /dev/fuse: {exc.strerror}") from None
    options = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    flags = ctypes.c_ulong(_MS_NOSUID | _MS_NODEV)
    if libc.mount(b"mailwatch-hung", str(where).encode(), b"fuse", flags, options) != 0:
        errno = ctypes.get_errno()
        os.close(fd)
        raise MountFailed(f"cannot mount a FUSE filesystem: {os.strerror(errno)}")
    mount = HungMount(where, fd, threading.Lock())
    watchdog = threading.Timer(release_after_s, mount.abort)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield mount
    finally:
        watchdog.cancel()
        mount.abort()
        libc.umount2(str(where).encode(), _MNT_DETACH)


@contextmanager
def hung_mount_or_skip(where: Path) -> Iterator[HungMount]:
    """``hung_mount`` for a test; where none can be made, the test is skipped, and under CI
    (``CI`` set), where one is required, it fails."""
    with ExitStack() as stack:
        try:
            mount = stack.enter_context(hung_mount(where))
        except MountFailed as exc:
            if os.environ.get("CI"):
                pytest.fail(f"a hung mount is needed: {exc}")
            pytest.skip(f"a hung mount is needed: {exc}")
        yield mount

"""The true delivery moment of each message: when it appeared in a Maildir's ``new/``.

Postfix's virtual(8) writes the message into ``tmp/``, links it into ``new/`` and unlinks the
``tmp/`` name. The inode's ctime changes with both steps, microseconds apart, so the ctime read
straight after the ``new/`` entry appears is the moment the message became visible to Dovecot.
An inotify watch on ``new/`` (through libc, no extra package) tells us at once, before Dovecot
renames the file into ``cur/`` (which would change the ctime again). The time we read the
event is kept too: it bounds how late the ctime can be.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import select
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

IN_CREATE = 0x00000100
IN_MOVED_TO = 0x00000080
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")
_CANARY_ID = re.compile(rb"X-Mailwatch-Canary:[^\n]*\bid=([0-9a-f]{32})")
_NAGIOS_ID = re.compile(rb"Subject: Nagios Message SMTP \S+ ID ([0-9.]+)\.")


@dataclass(frozen=True)
class Delivery:
    """One message that appeared in a watched ``new/`` directory."""

    user: str
    name: str
    ctime_ns: int
    """The inode's ctime just after it appeared: the truth (0 when it had left new/ already)."""
    event_ns: int
    """``time.time_ns()`` when we read the inotify event: an upper bound for the truth."""
    canary_id: str | None
    """The mailwatch canary id from the ``X-Mailwatch-Canary`` header, if any."""
    nagios_id: str | None
    """check_email_delivery's token from its Subject (its start time, in seconds), if any."""

    @property
    def truth_s(self) -> float:
        """Unix time the message became visible, from the ctime (event time as fallback)."""
        return (self.ctime_ns or self.event_ns) / 1e9


class MaildirWatch:
    """Watches the ``new/`` directories of some Maildirs; collects a ``Delivery`` per file."""

    def __init__(self) -> None:
        libc_name = ctypes.util.find_library("c") or "libc.so.6"
        self._libc = ctypes.CDLL(libc_name, use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._watches: dict[int, tuple[str, Path]] = {}
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._loop, name="maildir-watch", daemon=True)
        self._thread.start()

    def watch(self, user: str, maildir: Path, owner: tuple[int, int]) -> None:
        """Watch ``maildir``/new, creating the Maildir (owned by ``owner``) when missing."""
        new = maildir / "new"
        for path in (maildir.parent, maildir, maildir / "tmp", new, maildir / "cur"):
            if not path.exists():
                path.mkdir(mode=0o700)
                # Delivery and Dovecot run as the harness's vmail user: the Maildir is theirs.
                os.chown(path, *owner)
        wd = self._libc.inotify_add_watch(self._fd, bytes(new), IN_CREATE | IN_MOVED_TO)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {new} failed")
        with self._lock:
            self._watches[wd] = (user, maildir)

    def deliveries(self, user: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if user is None or d.user == user]

    def wait_for(self, match: str, timeout_s: float) -> Delivery | None:
        """The delivery whose canary id or Nagios token is ``match``; waits ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while True:
            with self._lock:
                for delivery in self._deliveries:
                    if match in (delivery.canary_id, delivery.nagios_id):
                        return delivery
            if time.monotonic() >= end:
                return None
            time.sleep(0.01)

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for fd in (self._fd, self._stop_r, self._stop_w):
            os.close(fd)

    def _loop(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            event_ns = time.time_ns()
            offset = 0
            while offset < len(data):
                wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                raw = data[offset + _EVENT.size : offset + _EVENT.size + length]
                offset += _EVENT.size + length
                with self._lock:
                    owner = self._watches.get(wd)
                if owner is not None:
                    name = raw.rstrip(b"\0").decode(errors="replace")
                    delivery = _inspect(owner[0], owner[1], name, event_ns)
                    with self._lock:
                        self._deliveries.append(delivery)


def _inspect(user: str, maildir: Path, name: str, event_ns: int) -> Delivery:
    """Stat and read the new file, following it into cur/ if Dovecot was quicker than us."""
    ctime_ns = 0
    head = b""
    for path in (maildir / "new" / name, *sorted((maildir / "cur").glob(f"{name}:2,*"))):
        try:
            with path.open("rb") as f:
                # Only a ctime read in new/ is the delivery's: the move into cur/ changes it.
                if path.parent.name == "new":
                    ctime_ns = os.fstat(f.fileno()).st_ctime_ns
                head = f.read(8192)
            break
        except FileNotFoundError:
            continue
    header_end = head.find(b"\n\n")
    headers = head if header_end < 0 else head[:header_end]
    canary = _CANARY_ID.search(headers)
    nagios = _NAGIOS_ID.search(headers)
    return Delivery(
        user=user,
        name=name,
        ctime_ns=ctime_ns,
        event_ns=event_ns,
        canary_id=canary.group(1).decode() if canary else None,
        nagios_id=nagios.group(1).decode() if nagios else None,
    )

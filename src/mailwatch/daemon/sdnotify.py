"""systemd's notify protocol: one datagram per message to ``$NOTIFY_SOCKET``.

Twenty lines of our own instead of a dependency: the protocol is a single ``sendto`` (see
sd_notify(3)); the Python packages for it either need libsystemd headers to build or are
unmaintained. Without ``$NOTIFY_SOCKET`` (not under systemd) every call does nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket


class SystemdNotifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._address: str | None = None
        self._socket: socket.socket | None = None
        if address:
            # A leading "@" names a socket in the abstract namespace.
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            # sendto() on a unix datagram socket blocks while the reader's queue is full; this
            # runs on the event loop, which must never wait on systemd.
            self._socket.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, *fields: str) -> None:
        """Send ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` ...; never raises."""
        if self._socket is None or self._address is None:
            return
        # systemd gone or its queue full (BlockingIOError is an OSError): drop the message;
        # the next heartbeat sends a fresh one.
        with contextlib.suppress(OSError):
            self._socket.sendto("\n".join(fields).encode(), self._address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval_s() -> float | None:
    """Half of systemd's ``WatchdogSec=`` (sd_watchdog_enabled(3)), or None when not asked."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None

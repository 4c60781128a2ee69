"""systemd's notify protocol over a real unix datagram socket."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from mailwatch.daemon.sdnotify import SystemdNotifier, watchdog_interval_s


def test_messages_arrive_as_one_datagram_each(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        notifier = SystemdNotifier(str(path))
        notifier.notify("READY=1", "STATUS=3 checks: 3 ok")
        notifier.notify("WATCHDOG=1")
        notifier.close()
        assert receiver.recv(4096) == b"READY=1\nSTATUS=3 checks: 3 ok"
        assert receiver.recv(4096) == b"WATCHDOG=1"


def test_a_reader_that_never_reads_does_not_block_the_daemon(tmp_path: Path) -> None:
    """sendto() on a full unix datagram queue blocks unless the socket is non-blocking; the
    daemon calls notify() on its event loop, so a stalled reader must not stall it."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        notifier = SystemdNotifier(str(path))
        sender = threading.Thread(
            target=lambda: [notifier.notify("WATCHDOG=1") for _ in range(5000)]
        )
        sender.start()
        sender.join(10)
        blocked = sender.is_alive()
        notifier.close()
    assert not blocked


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier("")
    assert not notifier.enabled
    notifier.notify("READY=1")


def test_watchdog_interval_is_half_of_watchdog_usec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # another process's watchdog
    assert watchdog_interval_s() is None

"""A loopback SMTP greeter that a test takes down and brings back: the peer of a real service
check (``protocol = "smtp"``), so that the check turns critical and recovers when the test
says, without restarting Postfix.

``with SmtpGreeter() as g:`` listens on ``127.0.0.1:g.port`` and greets every connection with
``220 … ESMTP``, answers ``QUIT`` with ``221`` and hangs up; ``g.down()`` closes the listening
socket (the check's connect is refused), ``g.up()`` listens on the same port again.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from types import TracebackType

from helpers.daemon import free_port

READ_TIMEOUT_S = 2.0
"""A client that says nothing after the greeting is hung up on this soon."""


class _Handler(socketserver.BaseRequestHandler):
    request: socket.socket

    def handle(self) -> None:
        self.request.settimeout(READ_TIMEOUT_S)
        try:
            self.request.sendall(b"220 greeter.test ESMTP ready\r\n")
            if self.request.recv(512):
                self.request.sendall(b"221 2.0.0 bye\r\n")
        except OSError:
            pass  # the check hung up first: its business


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False


class SmtpGreeter:
    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        """Listen (again) on ``port``; a no-op when already listening."""
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name=f"greeter-{self.port}",
            kwargs={"poll_interval": 0.05},
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections to ``port`` are refused from now on."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> SmtpGreeter:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

"""A loopback HTTP server that records what it is sent (POST or GET), for webhook alerts
(apprise ``json://``) and dead man's switch pings.

``with HttpReceiver(statuses=[500, 404]) as r:`` answers the first POST 500, the second 404,
then 200; ``r.url("/hook")`` is its address, ``r.requests`` what arrived. ``hang=True`` makes it
read each request and then say nothing until the block ends; ``hold_s`` makes it a slow
receiver that answers each request that long after reading it (``r.answered``: the requests
it has answered, or tried to answer if the sender had gone, with the HTTP status). The
server and every handler thread are stopped and joined when the block ends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

HANG_LIMIT_S = 60.0
"""A hanging answer never waits longer than this, even if the test forgets to end."""


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    receiver: HttpReceiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def _answer(self, method: str) -> None:
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        request = ReceivedRequest(method, self.path, dict(self.headers.items()), body)
        status = receiver._record(request)
        if receiver.hang:
            receiver._released.wait(HANG_LIMIT_S)
        elif receiver.hold_s:
            receiver._released.wait(receiver.hold_s)
        receiver._answer(request, status)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except OSError:
            pass  # the sender hung up (killed, or gave up waiting): nothing to answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads ``requests``; stderr noise helps nobody


class HttpReceiver:
    def __init__(
        self, statuses: Iterable[int] = (), *, hang: bool = False, hold_s: float = 0.0
    ) -> None:
        self.hang = hang
        self.hold_s = hold_s
        self.requests: list[ReceivedRequest] = []
        self.answered: list[tuple[ReceivedRequest, int]] = []
        self._statuses = list(statuses)
        self._lock = threading.Condition()
        self._released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-receiver", kwargs={"poll_interval": 0.05}
        )

    def url(self, path: str = "/", scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _record(self, request: ReceivedRequest) -> int:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            return self._statuses.pop(0) if self._statuses else 200

    def _answer(self, request: ReceivedRequest, status: int) -> None:
        with self._lock:
            self.answered.append((request, status))
            self._lock.notify_all()

    def wait_until(self, what: str, ready: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Return once ``ready()`` (called under the receiver's lock whenever a request arrives
        or is answered) is true; ``TimeoutError`` naming ``what`` otherwise."""
        with self._lock:
            if not self._lock.wait_for(ready, timeout_s):
                raise TimeoutError(f"no {what} after {timeout_s}s")

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[ReceivedRequest]:
        """The requests once at least ``count`` have arrived; ``TimeoutError`` otherwise."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout_s):
                raise TimeoutError(f"{len(self.requests)} request(s) after {timeout_s}s")
            return list(self.requests)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

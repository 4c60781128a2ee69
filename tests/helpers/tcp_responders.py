"""Small loopback servers with one scripted behaviour each, for protocol checks.

Used where no real daemon can run here (clamd without its virus database) and for the peers
no real daemon imitates on purpose: a tarpit, a wrong greeting, garbage, a truncated reply.
Every connection is closed when the ``async with`` block ends, so no transport outlives a test.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Responder:
    """``async with Responder(behaviour) as r:`` serves on ``127.0.0.1:r.port`` (or on the unix
    socket ``path``); ``r.requests`` holds what each client sent before the behaviour answered,
    ``r.connected`` is set on the first connection."""

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        path: Path | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.behaviour = behaviour
        self.path = path
        self.tls = tls
        self.port = 0
        self.connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Responder:
        if self.path is not None:
            self._server = await asyncio.start_unix_server(self._serve, path=self.path)
        else:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connected.set()
        try:
            await self.behaviour(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client went away mid-script: that is the client's business
        finally:
            writer.transport.abort()


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _until_client_leaves(reader: asyncio.StreamReader) -> bytes:
    """Everything the client sends until it closes."""
    return await reader.read()


def greets(line: bytes, received: asyncio.Queue[bytes] | None = None) -> Behaviour:
    """Send ``line``; put what the client says until it closes into ``received``."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(line)
        await writer.drain()
        rest = await _until_client_leaves(reader)
        if received is not None:
            received.put_nowait(rest)

    return behaviour


def sends_and_closes(data: bytes) -> Behaviour:
    """Send ``data`` (maybe nothing) and hang up at once."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if data:
            writer.write(data)
            await writer.drain()
        writer.close()

    return behaviour


def tarpit() -> Behaviour:
    """Accept, then say nothing until the test ends (a greet-delaying anti-spam tarpit)."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    return behaviour


def answers(
    terminator: bytes, reply: bytes, requests: list[bytes] | None = None, close: bool = True
) -> Behaviour:
    """Read one request up to ``terminator``, record it, send ``reply`` and (maybe) close."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(terminator)
        if requests is not None:
            requests.append(request)
        if reply:
            writer.write(reply)
            await writer.drain()
        if close:
            writer.close()
        else:
            await asyncio.Event().wait()

    return behaviour


def clamd_like(requests: list[bytes] | None = None) -> Behaviour:
    """clamd's answer to PING in both of its framings: ``zPING\\0`` -> ``PONG\\0``,
    ``nPING\\n`` -> ``PONG\\n``; anything else -> ``UNKNOWN COMMAND``."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = bytearray()
        while not request.endswith((b"\0", b"\n")):
            byte = await reader.read(1)
            if not byte:
                return
            request += byte
        if requests is not None:
            requests.append(bytes(request))
        end = request[-1:]
        command = bytes(request[1:-1]) if request[:1] in (b"z", b"n") else bytes(request[:-1])
        writer.write((b"PONG" if command == b"PING" else b"UNKNOWN COMMAND") + end)
        await writer.drain()
        writer.close()

    return behaviour


def forwards_while(passing: asyncio.Event, host: str, port: int) -> Behaviour:
    """Forward the connection to ``host:port`` both ways while ``passing`` is set; while it is
    clear, hold everything, in either direction, without closing (a network path that drops
    packets, or a server that stopped answering, as a client sees it), and pass it on once it
    is set again (the path healed)."""

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            await passing.wait()
            sink.write(data)
            await sink.drain()

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await passing.wait()
        upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            upstream_writer.transport.abort()

    return behaviour

"""A raw stream connection for the probes that speak to a peer themselves (service, tls):
opened and closed the same way, socket and TLS errors put in the same words; and the words
every protocol client uses for a refused connection and a silent peer.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager

from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.tlserrors import describe_tls_error, is_tls_error

CLOSE_GRACE_S = 1.0
"""How long a clean close (QUIT, TLS close_notify) may take before the connection is dropped."""
SHOWN_CHARS = 80
_MULTIPLE = "Multiple exceptions: "
"""How asyncio words a connection that failed at every address a name resolved to (Python
3.11: one ``OSError`` without an errno, the addresses' errors joined in its message)."""
_ERRNO = re.compile(r"\[Errno (\d+)\]")

Translate = Callable[[ProbeContext, str], AbstractContextManager[None]]
"""``translate(ctx, where)``: the probe's error boundary, entered around each step."""


@asynccontextmanager
async def connection(
    ctx: ProbeContext,
    where: str,
    translate: Translate,
    *,
    host: str | None = None,
    port: int | None = None,
    path: str | None = None,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A TCP (or, with ``path``, unix socket) stream, closed whatever happens: cleanly when
    all went well, else dropped at once. ``where`` (the peer as a person knows it) is the
    peer a timeout names."""
    ctx.stage = "connect"
    ctx.peer = where
    with translate(ctx, where):
        if path is not None:
            reader, writer = await asyncio.open_unix_connection(path)
        else:
            reader, writer = await asyncio.open_connection(host, port)
    try:
        yield reader, writer
    except BaseException:
        # Failed, or cut off by the timeout: drop the connection now, wait for nothing.
        writer.transport.abort()
        raise
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_GRACE_S):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()


@contextmanager
def socket_errors(
    ctx: ProbeContext,
    where: str,
    *,
    tls_stage: str,
    why: Callable[[OSError], str] | None = None,
) -> Iterator[None]:
    """TLS errors as ``tls_stage``, socket errors as the stage they happened in, in words a
    person can act on (``why``, default :func:`os_error_reason`); anything else passes."""
    stage = ctx.stage or "connect"
    reason = why or os_error_reason
    try:
        yield
    except ProbeFailure:
        raise
    except Exception as exc:
        if is_tls_error(exc):
            raise ProbeFailure(tls_stage, describe_tls_error(exc, where)) from None
        if not isinstance(exc, OSError):
            raise
        if stage != "connect":
            raise ProbeFailure(
                stage, f"{where} broke the connection during {stage}: {reason(exc)}"
            ) from None
        raise ProbeFailure("connect", cannot_connect(where, exc, why=reason)) from None


def cannot_connect(where: str, exc: OSError, *, why: Callable[[OSError], str] | None = None) -> str:
    """A failed connection in words a person can act on: ``connection refused by HOST:PORT``
    (also when every address of a name refused), else ``cannot connect to HOST:PORT:
    REASON`` (``why``, default :func:`os_error_reason`)."""
    if refused(exc):
        return f"connection refused by {where}"
    return f"cannot connect to {where}: {(why or os_error_reason)(exc)}"


def refused(exc: OSError) -> bool:
    """Whether the peer refused the connection, at every address it was tried at."""
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return True
    codes = _multiple_errnos(exc)
    return bool(codes) and all(code == errno.ECONNREFUSED for code in codes)


def _multiple_errnos(exc: OSError) -> list[int]:
    """The errno of each address of a "Multiple exceptions" error; [] for any other."""
    text = str(exc)
    if exc.errno is not None or not text.startswith(_MULTIPLE):
        return []
    return [int(code) for code in _ERRNO.findall(text)]


def no_answer(where: str, timeout_s: float, stage: str) -> str:
    """A peer that went silent: ``no answer from HOST:PORT within N s during STAGE``."""
    return f"no answer from {where} within {timeout_s:g} s during {stage}"


def os_error_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"host name lookup failed ({exc.strerror})"
    if refused(exc):
        return "connection refused"
    codes = sorted(set(_multiple_errnos(exc)))
    if codes:
        # Every address of the name failed: say how, once per distinct reason.
        return "; ".join(os.strerror(code).lower() for code in codes) + " (every address)"
    return exc.strerror or str(exc) or type(exc).__name__


def shown(data: bytes | str) -> str:
    """Peer bytes made safe for a summary: quoted, control characters escaped, cut short."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            cut = repr(data[:SHOWN_CHARS])
            return cut + (f"… ({len(data)} bytes)" if len(data) > SHOWN_CHARS else "")
    cut = repr(data[:SHOWN_CHARS])
    return cut + (f"… ({len(data)} characters)" if len(data) > SHOWN_CHARS else "")

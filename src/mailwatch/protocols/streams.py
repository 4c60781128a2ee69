"""A raw stream connection for the probes that speak to a peer themselves (service, tls):
opened and closed the same way, socket and TLS errors put in the same words; and the words
every protocol client uses for a refused connection and a silent peer.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager

from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.tlserrors import describe_tls_error, is_tls_error

CLOSE_GRACE_S = 1.0
"""How long a clean close (QUIT, TLS close_notify) may take before the connection is dropped."""
SHOWN_CHARS = 80

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
    all went well, else dropped at once."""
    ctx.stage = "connect"
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
        raise ProbeFailure("connect", f"cannot connect to {where}: {reason(exc)}") from None


def cannot_connect(where: str, exc: OSError) -> str:
    """A failed connection in words a person can act on: ``connection refused by HOST:PORT``,
    else ``cannot connect to HOST:PORT: REASON`` (:func:`os_error_reason`)."""
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    return f"cannot connect to {where}: {os_error_reason(exc)}"


def no_answer(where: str, timeout_s: float, stage: str) -> str:
    """A peer that went silent: ``no answer from HOST:PORT within N s during STAGE``."""
    return f"no answer from {where} within {timeout_s:g} s during {stage}"


def os_error_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"host name lookup failed ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
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

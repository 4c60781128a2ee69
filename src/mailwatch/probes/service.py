"""The service check: is the daemon there, and does it speak its protocol?

Stages: ``connect`` (refused, unreachable, no such socket file, permission denied), ``tls``
(handshake or certificate), ``banner`` (no greeting, or one that does not match), ``ping`` (no
answer to PING yet), ``protocol`` (a reply that is garbled, truncated or not PONG),
``process_missing`` and ``process_count``. Socket and TLS errors become a stage and a sentence in
``_translate`` only (over ``protocols.streams.socket_errors``). A silent peer is cut off by the
runner's timeout, which names the stage.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

import psutil

from mailwatch.config.checks.service import (
    BannerService,
    ClamdService,
    PingService,
    ProcessService,
    ServiceCheckBase,
    ServiceStage,
    SpamdService,
)
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes import procfs
from mailwatch.protocols.streams import connection, os_error_reason, shown, socket_errors
from mailwatch.protocols.tlscontext import client_context

MAX_REPLY_BYTES = 4096
"""A greeting or PONG is a few dozen bytes; a peer sending more without a line end is not it."""

_LABELS = {
    "smtp": "SMTP server",
    "imap": "IMAP server",
    "banner": "service",
    "clamd": "clamd",
    "spamd": "spamd",
}
_SPAMD_PONG = re.compile(r"^SPAMD/\d+\.\d+ 0 PONG\r?\n$")
_EOL = b"\r\n"

PongTest = Callable[[bytes], bool]


async def probe(check: ServiceCheckBase, ctx: ProbeContext) -> CheckResult:
    try:
        if isinstance(check, BannerService):
            return await _banner(check, ctx)
        if isinstance(check, ClamdService):
            return await _clamd(check, ctx)
        if isinstance(check, SpamdService):
            return await _spamd(check, ctx)
        if isinstance(check, ProcessService):
            return await _process(check, ctx)
    except ProbeFailure as failure:
        return ctx.failed(failure)
    raise TypeError(f"no service probe for {type(check).__name__}")


async def _banner(check: BannerService, ctx: ProbeContext) -> CheckResult:
    where = f"{_LABELS[check.protocol]} at {check.target}"
    pattern = check.banner_pattern
    tls = client_context(check) if check.tls == "tls" else None
    started = time.monotonic()
    async with _connection(ctx, where, host=check.host, port=check.effective_port, tls=tls) as (
        reader,
        writer,
    ):
        connected = time.monotonic()
        ctx.stage = ServiceStage.BANNER
        with _translate(ctx, where):
            data, complete = await _read_through(reader, b"\n")
        metrics = {"connect_s": connected - started, "banner_s": time.monotonic() - connected}
        if not data:
            raise ProbeFailure(
                ServiceStage.BANNER,
                f"{where} closed the connection without a banner",
                metrics=metrics,
            )
        if not complete:
            raise ProbeFailure(
                ServiceStage.PROTOCOL, f"{where} sent {_incomplete(data)}", metrics=metrics
            )
        line = data.decode("utf-8", "replace").rstrip("\r\n")
        if not pattern.search(line):
            raise ProbeFailure(
                ServiceStage.BANNER,
                f"{where} sent an unexpected banner: {shown(data.rstrip(_EOL))} "
                f"(expected {pattern.pattern})",
                metrics=metrics,
            )
        if check.effective_quit_command:
            # A clean goodbye: the server logs a QUIT instead of a lost connection.
            ctx.stage = ServiceStage.QUIT
            with suppress(OSError):
                writer.write(check.effective_quit_command.encode() + b"\r\n")
                await writer.drain()
    return ctx.result(
        State.OK,
        f"{where} greeted in {metrics['banner_s']:.3f} s: {shown(line)}",
        metrics=metrics,
        details={"banner": line[:200]},
    )


async def _clamd(check: ClamdService, ctx: ProbeContext) -> CheckResult:
    # The z prefix makes clamd end its answer with NUL, so a complete reply is recognisable.
    return await _ping(check, ctx, "clamd", b"zPING\0", b"\0", lambda reply: reply == b"PONG\0")


async def _spamd(check: SpamdService, ctx: ProbeContext) -> CheckResult:
    return await _ping(
        check,
        ctx,
        "spamd",
        b"PING SPAMC/1.5\r\n\r\n",
        b"\n",
        lambda reply: _SPAMD_PONG.match(reply.decode("utf-8", "replace")) is not None,
    )


async def _ping(
    check: PingService,
    ctx: ProbeContext,
    label: str,
    request: bytes,
    terminator: bytes,
    is_pong: PongTest,
) -> CheckResult:
    where = f"{label} at {check.target}"
    started = time.monotonic()
    async with _connection(ctx, where, host=check.host, port=check.port, path=check.socket) as (
        reader,
        writer,
    ):
        connected = time.monotonic()
        ctx.stage = ServiceStage.PING
        with _translate(ctx, where):
            writer.write(request)
            await writer.drain()
            data, complete = await _read_through(reader, terminator)
        metrics = {"connect_s": connected - started, "pong_s": time.monotonic() - connected}
        if not data:
            raise ProbeFailure(
                ServiceStage.PROTOCOL,
                f"{where} closed the connection without answering PING",
                metrics=metrics,
            )
        if not complete:
            raise ProbeFailure(
                ServiceStage.PROTOCOL, f"{where} sent {_incomplete(data)}", metrics=metrics
            )
        if not is_pong(data):
            raise ProbeFailure(
                ServiceStage.PROTOCOL,
                f"{where} did not answer PONG: got {shown(data.rstrip(terminator + _EOL))}",
                metrics=metrics,
            )
    return ctx.result(
        State.OK, f"{where} answered PONG in {metrics['pong_s']:.3f} s", metrics=metrics
    )


async def _process(check: ProcessService, ctx: ProbeContext) -> CheckResult:
    ctx.stage = ServiceStage.PROCESS
    pids = await asyncio.to_thread(_matching_pids, check.process_name, check.cmdline_contains)
    what = f"named {check.process_name!r}"
    if check.cmdline_contains:
        what += f" with {check.cmdline_contains!r} in the command line"
    metrics = {"process_count": float(len(pids))}
    details = {"pids": pids[:20]}
    if len(pids) < check.min_count:
        options = await asyncio.to_thread(procfs.proc_options)
        if procfs.hides_other_users(options):
            # Not seen is not missing: the process may run as another user, out of sight.
            return ctx.result(
                State.UNKNOWN,
                f"{_processes(len(pids))} {what} visible, expected at least "
                f"{check.min_count}: {procfs.hidden_processes_fix(options)}",
                stage=ServiceStage.PROCESS,
                metrics=metrics,
                details=details,
            )
    if not pids:
        return ctx.result(
            State.CRITICAL,
            f"no running process {what}",
            stage=ServiceStage.PROCESS_MISSING,
            metrics=metrics,
        )
    if len(pids) < check.min_count:
        return ctx.result(
            State.CRITICAL,
            f"{_processes(len(pids))} {what} running, expected at least {check.min_count}",
            stage=ServiceStage.PROCESS_COUNT,
            metrics=metrics,
            details=details,
        )
    return ctx.result(
        State.OK, f"{_processes(len(pids))} {what} running", metrics=metrics, details=details
    )


def _matching_pids(name: str, cmdline_contains: str | None) -> list[int]:
    pids = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        info = proc.info
        if info["name"] != name or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        # cmdline is None when we may not read it (another user's process under hidepid).
        if cmdline_contains and cmdline_contains not in " ".join(info["cmdline"] or ()):
            continue
        pids.append(proc.pid)
    return sorted(pids)


def _processes(n: int) -> str:
    return f"{n} process{'' if n == 1 else 'es'}"


@asynccontextmanager
async def _connection(
    ctx: ProbeContext,
    where: str,
    *,
    host: str | None = None,
    port: int | None = None,
    path: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A connected stream (TCP, TLS over TCP, or a unix socket), closed whatever happens."""
    async with connection(ctx, where, _translate, host=host, port=port, path=path) as (
        reader,
        writer,
    ):
        if tls is not None:
            ctx.stage = ServiceStage.TLS
            with _translate(ctx, where):
                await writer.start_tls(tls, server_hostname=host)
        yield reader, writer


@contextmanager
def _translate(ctx: ProbeContext, where: str) -> Iterator[None]:
    """Socket and TLS errors as the stage they happened in and words a person can act on."""
    with socket_errors(ctx, where, tls_stage=ServiceStage.TLS, why=_why):
        yield


def _why(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the socket does not exist (daemon not running, or another path?)"
    if isinstance(exc, PermissionError):
        return "permission denied on the socket (is mailwatch's user in the daemon's group?)"
    return os_error_reason(exc)


async def _read_through(reader: asyncio.StreamReader, terminator: bytes) -> tuple[bytes, bool]:
    """Bytes up to and including ``terminator``; ``complete`` is False when the peer closed
    first or sent ``MAX_REPLY_BYTES`` without it."""
    data = bytearray()
    while len(data) < MAX_REPLY_BYTES:
        chunk = await reader.read(MAX_REPLY_BYTES - len(data))
        if not chunk:
            return bytes(data), False
        data += chunk
        end = data.find(terminator)
        if end >= 0:
            return bytes(data[: end + len(terminator)]), True
    return bytes(data), False


def _incomplete(data: bytes) -> str:
    if len(data) >= MAX_REPLY_BYTES:
        return f"{len(data)} bytes without a line end: {shown(data)}"
    return f"a truncated reply before closing: {shown(data)}"

"""The tls check: a mail server's certificate and TLS session, judged the way its clients would.

Two sessions per run. The first handshakes without verifying anything, so that a certificate
the server should not be sending (expired, unknown CA, another name) can still be read and
described; the second verifies the chain against the system store (or ``ca_file``) with the
name check off, so that a wrong name and an untrusted chain are reported independently.
Findings are computed in :mod:`.certificate`.

Stages: ``connect``, ``starttls`` (the SMTP or IMAP dialogue before the upgrade), ``handshake``
(TLS failed even without verification, or the certificate cannot be decoded), then the
findings ``expired``, ``expiring``, ``hostname``, ``untrusted``, ``protocol_version``. Socket,
stream and TLS errors become a stage and a sentence in ``_translate`` only (over
``protocols.streams.socket_errors``); a chain the verifying handshake refuses arrives as
``CertificateRejected`` (``protocols.tlserrors.certificate_rejections``).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from mailwatch.config.checks.tls import TlsCheck, TlsStage
from mailwatch.domain.errors import CertificateRejected, ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State, worst
from mailwatch.probes.tls.certificate import (
    CertificateFacts,
    ChainVerdict,
    Limits,
    days_left,
    judge,
    version_below,
)
from mailwatch.protocols.streams import CLOSE_GRACE_S, connection, shown, socket_errors
from mailwatch.protocols.tlserrors import certificate_rejections, is_tls_error

MAX_REPLY_LINES = 100
LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"
"""OpenSSL 3 refuses TLS 1.0 and 1.1 above security level 0 (they sign with SHA-1)."""


@dataclass(frozen=True, slots=True)
class Session:
    """What one handshake showed: the leaf certificate (DER), protocol version and cipher."""

    certificate: bytes | None
    version: str
    cipher: str
    handshake_s: float


async def probe(check: TlsCheck, ctx: ProbeContext) -> CheckResult:
    try:
        return await _check(check, ctx)
    except ProbeFailure as failure:
        return ctx.failed(failure)


async def _check(check: TlsCheck, ctx: ProbeContext) -> CheckResult:
    where = check.target
    seen = await _session(check, ctx, _observing_context())
    metrics = {"handshake_s": seen.handshake_s}
    if seen.certificate is None:
        raise ProbeFailure(TlsStage.HANDSHAKE, f"{where} sent no certificate", metrics=metrics)
    try:
        facts = CertificateFacts.from_der(seen.certificate)
    except ValueError as exc:
        raise ProbeFailure(
            TlsStage.HANDSHAKE,
            f"{where} sent a certificate that cannot be decoded: {exc}",
            metrics=metrics,
        ) from None
    metrics["days_left"] = days_left(facts, ctx.started_at)
    metrics["expiry_timestamp_s"] = facts.not_after.timestamp()
    # An outdated server is verified with the same lenience it was observed with, so that
    # its chain is still judged; the version finding already says it is outdated.
    legacy = version_below(seen.version, "TLSv1.2")
    verifying = await asyncio.to_thread(_verifying_context, check.ca_file, legacy)
    try:
        await _session(check, ctx, verifying)
        chain = ChainVerdict(trusted=True)
    except CertificateRejected as rejected:
        chain = ChainVerdict(trusted=False, code=rejected.code, reason=rejected.reason)
    limits = Limits(check.expiry_warning_days, check.expiry_critical_days, check.min_version)
    findings = judge(
        facts,
        server_name=check.server_name,
        chain=chain,
        version=seen.version,
        limits=limits,
        now=ctx.started_at,
    )
    details = {
        **facts.to_details(),
        "server_name": check.server_name,
        "protocol_version": seen.version,
        "cipher": seen.cipher,
        "trusted": chain.trusted,
        "verify_error": chain.reason or None,
        "findings": [f.stage for f in findings],
    }
    if not findings:
        summary = (
            f"{where} certificate ok: expires in {_days(metrics['days_left'])} "
            f"({facts.not_after.date().isoformat()}), {seen.version} {seen.cipher}"
        )
        return ctx.result(State.OK, summary, metrics=metrics, details=details)
    return ctx.result(
        worst(f.state for f in findings),
        f"{where} " + "; ".join(f.text for f in findings),
        stage=findings[0].stage,
        metrics=metrics,
        details=details,
    )


def _days(days: float) -> str:
    whole = int(days)
    return f"{whole} day{'' if whole == 1 else 's'}"


async def _session(check: TlsCheck, ctx: ProbeContext, context: ssl.SSLContext) -> Session:
    """Connect, upgrade (STARTTLS or straight away), handshake, say goodbye."""
    where = check.target
    async with connection(ctx, where, _translate, host=check.host, port=check.effective_port) as (
        reader,
        writer,
    ):
        if check.protocol == "smtp-starttls":
            ctx.stage = TlsStage.STARTTLS
            with _translate(ctx, where):
                await _smtp_starttls(reader, writer, where, check.helo or socket.gethostname())
        elif check.protocol == "imap-starttls":
            ctx.stage = TlsStage.STARTTLS
            with _translate(ctx, where):
                await _imap_starttls(reader, writer, where)
        ctx.stage = TlsStage.HANDSHAKE
        started = time.monotonic()
        with _translate(ctx, where), certificate_rejections():
            await writer.start_tls(context, server_hostname=check.server_name)
        elapsed = time.monotonic() - started
        tls = writer.get_extra_info("ssl_object")
        assert isinstance(tls, ssl.SSLObject)
        cipher = tls.cipher()
        session = Session(
            certificate=tls.getpeercert(binary_form=True),
            version=tls.version() or "unknown",
            cipher=cipher[0] if cipher else "unknown",
            handshake_s=elapsed,
        )
        await _goodbye(reader, writer, imap=check.protocol.startswith("imap"))
    return session


async def _goodbye(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, imap: bool
) -> None:
    """QUIT or LOGOUT, and wait briefly for the answer: the server then logs a clean goodbye
    instead of a lost connection. Whatever goes wrong here changes nothing for the result."""
    with suppress(OSError, EOFError, ValueError, asyncio.LimitOverrunError, TimeoutError):
        async with asyncio.timeout(CLOSE_GRACE_S):
            writer.write(b"a2 LOGOUT\r\n" if imap else b"QUIT\r\n")
            await writer.drain()
            if not imap:
                await _smtp_reply(reader)
                return
            for _ in range(MAX_REPLY_LINES):
                if (await reader.readuntil(b"\n")).startswith(b"a2 "):
                    return


async def _smtp_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str, helo: str
) -> None:
    code, lines = await _smtp_reply(reader)
    if code != 220:
        raise ProbeFailure(
            TlsStage.STARTTLS, f"{where} refused the session: {code} {shown(lines[0])}"
        )
    writer.write(f"EHLO {helo}\r\n".encode("ascii", "replace"))
    code, lines = await _smtp_reply(reader)
    if code != 250:
        raise ProbeFailure(TlsStage.STARTTLS, f"{where} rejected EHLO: {code} {shown(lines[0])}")
    if not any(line.upper().split()[:1] == ["STARTTLS"] for line in lines[1:]):
        raise ProbeFailure(TlsStage.STARTTLS, f"{where} does not offer STARTTLS")
    writer.write(b"STARTTLS\r\n")
    code, lines = await _smtp_reply(reader)
    if code != 220:
        raise ProbeFailure(TlsStage.STARTTLS, f"{where} refused STARTTLS: {code} {shown(lines[0])}")


async def _smtp_reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    """One SMTP reply: its code and the text of each line (``250-`` continuations)."""
    lines: list[str] = []
    while len(lines) < MAX_REPLY_LINES:
        line = (await reader.readuntil(b"\n")).decode("utf-8", "replace").rstrip("\r\n")
        code = line[:3]
        if not code.isdigit() or line[3:4] not in ("", " ", "-"):
            raise ValueError(f"not an SMTP reply: {shown(line)}")
        lines.append(line[4:].strip())
        if line[3:4] != "-":
            return int(code), lines
    raise ValueError(f"an SMTP reply longer than {MAX_REPLY_LINES} lines")


async def _imap_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str
) -> None:
    greeting = (await reader.readuntil(b"\n")).rstrip(b"\r\n")
    if not greeting.upper().startswith(b"* OK"):
        raise ProbeFailure(TlsStage.STARTTLS, f"{where} greeted with {shown(greeting)}")
    writer.write(b"a1 STARTTLS\r\n")
    for _ in range(MAX_REPLY_LINES):
        line = (await reader.readuntil(b"\n")).rstrip(b"\r\n")
        if line.startswith(b"a1 "):
            if line[3:].upper().startswith(b"OK"):
                return
            raise ProbeFailure(TlsStage.STARTTLS, f"{where} refused STARTTLS: {shown(line)}")
    raise ValueError(f"{MAX_REPLY_LINES} lines without an answer to STARTTLS")


@contextmanager
def _translate(ctx: ProbeContext, where: str) -> Iterator[None]:
    """Socket, stream and TLS errors as the stage they happened in, in words to act on."""
    stage = ctx.stage or TlsStage.CONNECT
    with socket_errors(ctx, where, tls_stage=TlsStage.HANDSHAKE):
        try:
            yield
        except asyncio.IncompleteReadError:
            raise ProbeFailure(stage, f"{where} closed the connection during {stage}") from None
        except (ValueError, asyncio.LimitOverrunError) as exc:
            if is_tls_error(exc):
                raise  # socket_errors words it
            raise ProbeFailure(
                stage, f"{where} sent something unexpected during {stage}: {exc}"
            ) from None


@functools.cache
def _observing_context() -> ssl.SSLContext:
    """Accepts any certificate and any protocol down to TLS 1.0: it only looks."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _allow_legacy(context)
    return context


def _verifying_context(ca_file: Path | None, legacy: bool) -> ssl.SSLContext:
    """Verifies the chain like a default client; the name is matched separately."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.check_hostname = False
    if legacy:
        _allow_legacy(context)
    return context


def _allow_legacy(context: ssl.SSLContext) -> None:
    # Python deprecates naming TLS 1.0 at all; here it is named to report a server using it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"ssl\.TLSVersion\.TLSv1", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers(LEGACY_CIPHERS)

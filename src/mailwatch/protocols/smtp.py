"""SMTP as the probes speak it: handing a canary to a server, and greeting one without sending.

:func:`send_message` names every failure by the step it happened in, as a ``ProbeFailure`` with
the stage of the step: ``smtp_connect`` (TCP, greeting, EHLO), ``smtp_tls`` (implicit TLS or
STARTTLS), ``smtp_auth``, ``smtp_envelope`` (MAIL FROM, RCPT TO) or ``smtp_data`` (DATA and the
message); a refusal of the sender, a recipient or the message is ``smtp_rejected``, while a
server that stops answering is a timeout of the step it stopped in. :func:`greet` only
says hello and goodbye (connect, banner, EHLO, QUIT) and raises ``SmtpUnreachable`` with a
short reason. aiosmtplib's and the socket layer's errors are translated here and nowhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import aiosmtplib

from mailwatch.config.checks.roundtrip import SmtpEndpoint
from mailwatch.domain.errors import ProbeFailure, SmtpUnreachable
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.sasl import ERROR_REPLY, BearerLogin, error_challenge
from mailwatch.protocols.streams import (
    CLOSE_GRACE_S,
    cannot_connect,
    no_answer,
    os_error_reason,
)
from mailwatch.protocols.tlscontext import client_context
from mailwatch.protocols.tlserrors import describe_tls_error, is_tls_error

_fqdn: str | None = None


async def this_host_fqdn() -> str:
    """The EHLO name when none is configured. getfqdn() may wait on reverse DNS, so it runs
    once, in a thread, never on the event loop; later probes take the remembered name."""
    global _fqdn
    if _fqdn is None:
        _fqdn = await asyncio.to_thread(socket.getfqdn)
    return _fqdn


@dataclass(frozen=True, slots=True)
class SmtpReceipt:
    """What the server said when it took the canary."""

    accepted_at: float
    """``time.monotonic()`` at the final reply to DATA: the latency clock starts here."""
    send_s: float
    reply: str


async def send_message(
    endpoint: SmtpEndpoint,
    mail_from: str,
    rcpt_to: str,
    message: bytes,
    ctx: ProbeContext,
    login: BearerLogin | None = None,
    *,
    envelope_id: str | None = None,
) -> SmtpReceipt:
    """Hand ``message`` to the server; ``login`` logs in with an OAuth2 token instead of the
    endpoint's password (``auth = "xoauth2"`` or ``"oauthbearer"``). When the server offers DSN
    (RFC 3461) and an ``envelope_id`` is given, the envelope asks for a bounce with the headers
    only (``RET=HDRS``), tagged with ``ENVID=<envelope_id>``, on failure alone
    (``NOTIFY=FAILURE``): a bounce is then small and says which message it is about."""
    where = f"{endpoint.host}:{endpoint.effective_port}"
    client = aiosmtplib.SMTP(
        hostname=endpoint.host,
        port=endpoint.effective_port,
        local_hostname=endpoint.helo or await this_host_fqdn(),
        timeout=endpoint.command_timeout_s,
        use_tls=endpoint.tls == "tls",
        start_tls=False,
        tls_context=client_context(endpoint) if endpoint.tls != "none" else None,
    )
    started = time.monotonic()
    timeout_s = endpoint.command_timeout_s
    ctx.peer = where
    try:
        ctx.stage = "smtp_tls" if endpoint.tls == "tls" else "smtp_connect"
        with _translate(ctx, where, timeout_s):
            await client.connect()
            ctx.stage = "smtp_connect"
            await client.ehlo()
        if endpoint.tls == "starttls":
            ctx.stage = "smtp_tls"
            with _translate(ctx, where, timeout_s):
                if not client.supports_extension("starttls"):
                    raise ProbeFailure("smtp_tls", f"{where} does not offer STARTTLS")
                await client.starttls()
                await client.ehlo()
        if login is not None:
            ctx.stage = "smtp_auth"
            with _translate(ctx, where, timeout_s):
                await _bearer_auth(client, login, endpoint, where)
        elif endpoint.username and endpoint.password:
            ctx.stage = "smtp_auth"
            with _translate(ctx, where, timeout_s):
                await client.login(endpoint.username, endpoint.password.get_secret_value())
        ctx.stage = "smtp_envelope"
        with _translate(ctx, where, timeout_s):
            dsn = envelope_id is not None and client.supports_extension("dsn")
            mail_options = ["RET=HDRS", f"ENVID={_xtext(envelope_id or '')}"] if dsn else []
            await client.mail(mail_from, options=mail_options)
            await client.rcpt(rcpt_to, options=["NOTIFY=FAILURE"] if dsn else [])
        ctx.stage = "smtp_data"
        with _translate(ctx, where, timeout_s):
            response = await client.data(message)
        accepted_at = time.monotonic()
        ctx.stage = "smtp_quit"
        # The canary is accepted; a failed QUIT changes nothing for the round trip.
        with suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
        return SmtpReceipt(
            accepted_at=accepted_at,
            send_s=accepted_at - started,
            reply=f"{response.code} {response.message}",
        )
    finally:
        client.close()
        # The socket closes on the loop's next turn; give it that turn, or a loop that ends
        # right after the probe (``mailwatch check``) leaves it open.
        await asyncio.sleep(0)


async def _bearer_auth(
    client: aiosmtplib.SMTP, login: BearerLogin, endpoint: SmtpEndpoint, where: str
) -> None:
    """SMTP AUTH with an OAuth2 token, the initial response on the AUTH line (RFC 4954). A
    refusal comes as a 334 error challenge first, answered as the mechanism says."""
    mechanism = login.mechanism
    offered = [method.upper() for method in client.server_auth_methods]
    if mechanism not in offered:
        raise ProbeFailure(
            "smtp_auth",
            f"{where} does not offer AUTH {mechanism} "
            + (f"(it offers {' '.join(offered)})" if offered else "(it offers no AUTH)"),
        )
    initial = login.initial_response(endpoint.host, endpoint.effective_port)
    response = await client.execute_command(b"AUTH", mechanism.encode(), initial.encode())
    challenge = ""
    if response.code == 334:
        challenge = error_challenge(response.message)
        response = await client.execute_command(ERROR_REPLY[mechanism].encode())
    if response.code != 235:
        reply = f"{response.code} {' '.join(response.message.split())}"
        raise ProbeFailure(
            "smtp_auth",
            f"{where} refused the {mechanism} login of {login.username}: {reply}"
            + (f" ({challenge})" if challenge else ""),
            reply=reply,
        )


@contextmanager
def _translate(ctx: ProbeContext, where: str, timeout_s: float) -> Iterator[None]:
    """aiosmtplib's and the socket layer's errors, as the stage and words a person can act on."""
    stage = ctx.stage or "smtp_connect"
    try:
        yield
    except ProbeFailure:
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ProbeFailure(
            "smtp_auth", f"{where} refused the login: {_reply(exc)}", reply=_reply(exc)
        ) from None
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPRecipientRefused) as exc:
        who = exc.sender if isinstance(exc, aiosmtplib.SMTPSenderRefused) else exc.recipient
        raise ProbeFailure(
            "smtp_rejected", f"{where} refused {who}: {_reply(exc)}", reply=_reply(exc)
        ) from None
    except aiosmtplib.SMTPDataError as exc:
        raise ProbeFailure(
            "smtp_rejected", f"{where} refused the message: {_reply(exc)}", reply=_reply(exc)
        ) from None
    except aiosmtplib.SMTPServerDisconnected as exc:
        raise ProbeFailure(stage, f"{where} closed the connection during {stage}: {exc}") from None
    except aiosmtplib.SMTPTimeoutError:
        raise ProbeFailure(stage, no_answer(where, timeout_s, stage)) from None
    except aiosmtplib.SMTPConnectResponseError as exc:
        raise ProbeFailure(
            "smtp_connect", f"{where} greeted with an error: {_reply(exc)}", reply=_reply(exc)
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise ProbeFailure(
            stage, f"{where} answered {_reply(exc)} during {stage}", reply=_reply(exc)
        ) from None
    except Exception as exc:
        if is_tls_error(exc):
            raise ProbeFailure("smtp_tls", describe_tls_error(exc, where)) from None
        if isinstance(exc, aiosmtplib.SMTPConnectError | OSError):
            cause = _socket_error(exc)
            why = (
                cannot_connect(where, cause) if cause else f"cannot connect to {where}: {_why(exc)}"
            )
            raise ProbeFailure("smtp_connect", why) from None
        if isinstance(exc, aiosmtplib.SMTPException):
            raise ProbeFailure(stage, f"{where}: {exc} during {stage}") from None
        raise


def _xtext(text: str) -> str:
    """RFC 3461 xtext: printable ASCII but ``+`` and ``=`` as is, everything else ``+XX``."""
    return "".join(
        ch if "!" <= ch <= "~" and ch not in "+=" else f"+{ord(ch):02X}"
        for ch in text.encode("utf-8").decode("latin-1")
    )


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {' '.join(exc.message.split())}"


def _why(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, socket.gaierror):
        return f"host name lookup failed ({cause.strerror})"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class SmtpGreeting:
    """What a server said to a client that only greeted it."""

    address: str
    banner: str
    """The first line of the banner, without its code."""
    starttls: bool
    """The EHLO reply offered STARTTLS."""
    elapsed_s: float
    """From the start of the TCP connection to the EHLO reply."""


async def greet(address: str, port: int, helo: str, timeout_s: float) -> SmtpGreeting:
    """Connect to ``address`` (an IP address), read the banner, send EHLO, say QUIT.

    The connection, the banner and the EHLO reply must all come within ``timeout_s``; the
    reply to QUIT is waited for only within what is left of it, and at most
    ``CLOSE_GRACE_S``. A peer that cannot be greeted raises ``SmtpUnreachable``, whose
    message says what happened and where (``connection refused by 192.0.2.1:25``, ``no
    answer from 192.0.2.1:25 within 10 s during banner``).
    """
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + timeout_s
    client = aiosmtplib.SMTP(
        hostname=address,
        local_hostname=helo.encode("ascii", "replace").decode("ascii"),
        timeout=None,
        start_tls=False,
    )
    where = endpoint(address, port)
    step = "connect"
    started = time.monotonic()
    try:
        try:
            async with asyncio.timeout_at(ends_at):
                sock = await _tcp_connection(address, port)
                step = "banner"
                banner = await client.connect(sock=sock)
                step = "EHLO"
                await client.ehlo()
        except Exception as exc:
            reason = _unreachable_reason(exc, where, step, timeout_s)
            if reason is None:
                raise
            raise SmtpUnreachable(reason) from None
        greeting = SmtpGreeting(
            address=address,
            banner=_first_line(banner.message),
            starttls=client.supports_extension("starttls"),
            elapsed_s=time.monotonic() - started,
        )
        # A clean goodbye: the server logs a QUIT instead of a lost connection. The host has
        # greeted; a QUIT that fails or goes unanswered changes nothing.
        grace_s = min(CLOSE_GRACE_S, max(0.0, ends_at - loop.time()))
        with suppress(aiosmtplib.SMTPException, OSError):
            await client.quit(timeout=grace_s)
        return greeting
    finally:
        client.close()
        await asyncio.sleep(0)  # the socket closes on the loop's next turn (see send_message)


async def _tcp_connection(address: str, port: int) -> socket.socket:
    """A TCP connection made apart from aiosmtplib (which then takes the socket over), so that
    a peer that does not accept the connection is told from one that accepts and stays mute."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (address, port))
    except BaseException:
        sock.close()
        raise
    return sock


_MALFORMED_LINE = "Malformed SMTP response line: "
"""How aiosmtplib words a line that does not start with a reply code."""


def _unreachable_reason(exc: Exception, where: str, step: str, timeout_s: float) -> str | None:
    """aiosmtplib's and the socket layer's errors in :func:`greet`, as a sentence naming
    ``where``; None for anything else (a bug, which must not pass for an unreachable host)."""
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return f"{where} refuses sessions: {exc.code} {_first_line(exc.message)}"
    if isinstance(exc, aiosmtplib.SMTPHeloError):
        return f"{where} rejected EHLO: {exc.code} {_first_line(exc.message)}"
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code < 0:
        # aiosmtplib's "invalid response": a line without a reply code, or far too much text.
        if exc.message.startswith(_MALFORMED_LINE):
            line = exc.message.removeprefix(_MALFORMED_LINE).rstrip("\r\n")
            return f"{where} does not speak SMTP (unexpected line {line[:60]!r})"
        return f"{where} does not speak SMTP ({exc.message[:1].lower()}{exc.message[1:]})"
    if isinstance(exc, TimeoutError):
        return no_answer(where, timeout_s, step)
    cause = _socket_error(exc)
    if cause is not None:
        return (
            cannot_connect(where, cause)
            if step == "connect"
            else (f"{where} broke the connection during {step}: {os_error_reason(cause)}")
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return f"{where} closed the connection before the {step}"
    if isinstance(exc, aiosmtplib.SMTPException):
        return f"{where}: {exc.message}"
    return None


def endpoint(host: str, port: int) -> str:
    """``HOST:PORT``, with an IPv6 address in brackets (``[2001:db8::1]:25``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _socket_error(exc: BaseException) -> OSError | None:
    """The socket's own error (a reset, an unreachable network), under aiosmtplib's wrappers."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, aiosmtplib.SMTPException):
            return seen
        seen = seen.__cause__
    return None


def _first_line(message: str) -> str:
    return message.split("\n", 1)[0]

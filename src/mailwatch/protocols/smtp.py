"""Handing a canary to an SMTP server, with every failure named by the step it happened in.

Stages: ``smtp_connect`` (TCP, greeting, EHLO), ``smtp_tls`` (implicit TLS or STARTTLS),
``smtp_auth``, ``smtp_rejected`` (sender, recipient or data refused).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import aiosmtplib

from mailwatch.config.roundtrip import SmtpEndpoint
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
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
) -> SmtpReceipt:
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
    try:
        ctx.stage = "smtp_tls" if endpoint.tls == "tls" else "smtp_connect"
        with _translate(ctx, where):
            await client.connect()
            ctx.stage = "smtp_connect"
            await client.ehlo()
        if endpoint.tls == "starttls":
            ctx.stage = "smtp_tls"
            with _translate(ctx, where):
                if not client.supports_extension("starttls"):
                    raise ProbeFailure("smtp_tls", f"{where} does not offer STARTTLS")
                await client.starttls()
                await client.ehlo()
        if endpoint.username and endpoint.password:
            ctx.stage = "smtp_auth"
            with _translate(ctx, where):
                await client.login(endpoint.username, endpoint.password.get_secret_value())
        ctx.stage = "smtp_rejected"
        with _translate(ctx, where):
            await client.mail(mail_from)
            await client.rcpt(rcpt_to)
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


@contextmanager
def _translate(ctx: ProbeContext, where: str) -> Iterator[None]:
    """aiosmtplib's and the socket layer's errors, as the stage and words a person can act on."""
    stage = ctx.stage or "smtp_connect"
    try:
        yield
    except ProbeFailure:
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ProbeFailure("smtp_auth", f"{where} refused the login: {_reply(exc)}") from None
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPRecipientRefused) as exc:
        who = exc.sender if isinstance(exc, aiosmtplib.SMTPSenderRefused) else exc.recipient
        raise ProbeFailure("smtp_rejected", f"{where} refused {who}: {_reply(exc)}") from None
    except aiosmtplib.SMTPDataError as exc:
        raise ProbeFailure("smtp_rejected", f"{where} refused the message: {_reply(exc)}") from None
    except aiosmtplib.SMTPServerDisconnected as exc:
        raise ProbeFailure(stage, f"{where} closed the connection during {stage}: {exc}") from None
    except aiosmtplib.SMTPTimeoutError:
        raise ProbeFailure(stage, f"{where} did not answer in time during {stage}") from None
    except aiosmtplib.SMTPConnectResponseError as exc:
        raise ProbeFailure(
            "smtp_connect", f"{where} greeted with an error: {_reply(exc)}"
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise ProbeFailure(stage, f"{where} answered {_reply(exc)} during {stage}") from None
    except Exception as exc:
        if is_tls_error(exc):
            raise ProbeFailure("smtp_tls", describe_tls_error(exc, where)) from None
        if isinstance(exc, aiosmtplib.SMTPConnectError | OSError):
            raise ProbeFailure("smtp_connect", f"cannot connect to {where}: {_why(exc)}") from None
        if isinstance(exc, aiosmtplib.SMTPException):
            raise ProbeFailure(stage, f"{where}: {exc} during {stage}") from None
        raise


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {' '.join(exc.message.split())}"


def _why(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, socket.gaierror):
        return f"host name lookup failed ({cause.strerror})"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(exc) or type(exc).__name__

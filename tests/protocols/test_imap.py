"""The IMAP session of the round trip: the real Dovecot of the harness for the normal path, and
scripted loopback peers (``helpers.tcp_responders``) for the servers no real Dovecot imitates
on purpose: one that greets and goes silent, greets and sends garbage, says BYE at once, or
answers garbage once logged in."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from harness.mailservers import MailServers
from helpers.tcp_responders import Behaviour, Responder, free_port, greets
from mailwatch.config.checks.roundtrip import ImapEndpoint
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.protocols.imap import ImapSession

TIMEOUT_S = 0.5
SLACK_S = 1.5
"""What a loaded CI machine may add to a bound."""


def endpoint(port: int, **extra: Any) -> ImapEndpoint:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "username": "canary@example.test",
        "password": "secret-password",
        "command_timeout_s": TIMEOUT_S,
    }
    return ImapEndpoint.model_validate(values | extra)


def context() -> ProbeContext:
    return ProbeContext(check="rt", kind="roundtrip", target="canary@example.test")


def imap_peer(greeting: bytes, **answers: bytes) -> Behaviour:
    """Greets with ``greeting``, then answers each command named in ``answers`` with its reply
    (``{tag}`` stands for the command's tag); a command not named gets no answer at all."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        await writer.drain()
        while line := await reader.readline():
            tag, _, rest = line.partition(b" ")
            reply = answers.get(rest.split(b" ", 1)[0].strip().upper().decode())
            if reply is not None:
                writer.write(reply.replace(b"{tag}", tag))
                await writer.drain()

    return behaviour


LOGGED_IN = b"{tag} OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] Logged in\r\n"


@pytest.fixture
async def never_retrieved() -> AsyncIterator[list[str]]:
    """The "Task exception was never retrieved" reports (printed on stderr, with a traceback,
    outside tests) of the test, once the test has collected its garbage."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    previous = loop.get_exception_handler()

    def record(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "never retrieved" in context["message"]:
            seen.append(f"{context['message']}: {context.get('exception')!r}")

    loop.set_exception_handler(record)
    yield seen
    loop.set_exception_handler(previous)


async def fails(endpoint: ImapEndpoint) -> tuple[ProbeFailure, float]:
    """Open a session that must fail; the failure and how long it took."""
    started = time.monotonic()
    with pytest.raises(ProbeFailure) as excinfo:
        async with ImapSession(endpoint, context()):
            pass
    return excinfo.value, time.monotonic() - started


async def test_a_server_that_greets_then_stays_silent_is_cut_off_at_the_command_timeout() -> None:
    async with Responder(greets(b"* OK ready\r\n")) as peer:
        failure, elapsed_s = await fails(endpoint(peer.port))

    assert failure.stage == "imap_connect"
    assert failure.summary == (
        f"no answer from 127.0.0.1:{peer.port} within 0.5 s during imap_connect"
    )
    assert elapsed_s < TIMEOUT_S + SLACK_S


async def test_a_server_that_greets_then_sends_garbage_is_an_unexpected_reply_at_once() -> None:
    script = imap_peer(b"* OK ready\r\n", CAPABILITY=b"HTTP/1.1 400 Bad Request\r\n")
    async with Responder(script) as peer:
        failure, elapsed_s = await fails(endpoint(peer.port, command_timeout_s=30))

    assert failure.stage == "imap_protocol"
    assert failure.summary == (
        f"unexpected reply from 127.0.0.1:{peer.port}: 'HTTP/1.1 400 Bad Request'"
    )
    assert elapsed_s < SLACK_S


async def test_a_greeting_that_is_not_imap_is_an_unexpected_reply() -> None:
    async with Responder(greets(b"SSH-2.0-OpenSSH_9.2p1\r\n")) as peer:
        failure, elapsed_s = await fails(endpoint(peer.port, command_timeout_s=30))

    assert failure.stage == "imap_protocol"
    assert failure.summary == (
        f"unexpected reply from 127.0.0.1:{peer.port}: 'SSH-2.0-OpenSSH_9.2p1'"
    )
    assert elapsed_s < SLACK_S


async def test_a_bye_greeting_is_reported_at_once_in_the_servers_words(
    never_retrieved: list[str],
) -> None:
    bye = b"* BYE Too many connections from 127.0.0.1\r\n"
    async with Responder(greets(bye)) as peer:
        failure, elapsed_s = await fails(endpoint(peer.port, command_timeout_s=30))
    gc.collect()
    await asyncio.sleep(0)

    assert failure.stage == "imap_connect"
    assert failure.summary == (
        f"127.0.0.1:{peer.port} refused the session: '* BYE Too many connections from 127.0.0.1'"
    )
    assert elapsed_s < SLACK_S
    assert never_retrieved == []


async def test_garbage_after_login_is_an_unexpected_reply_not_a_timeout(
    never_retrieved: list[str],
) -> None:
    script = imap_peer(
        b"* OK [CAPABILITY IMAP4rev1] ready\r\n",
        LOGIN=LOGGED_IN,
        SELECT=b"<html><body>502 Bad Gateway</body></html>\r\n",
    )
    async with Responder(script) as peer:
        started = time.monotonic()
        with pytest.raises(ProbeFailure) as excinfo:
            async with ImapSession(endpoint(peer.port, command_timeout_s=30), context()) as s:
                await s.select("INBOX")
        elapsed_s = time.monotonic() - started
    gc.collect()
    await asyncio.sleep(0)

    assert excinfo.value.stage == "imap_protocol"
    assert excinfo.value.summary == (
        f"unexpected reply from 127.0.0.1:{peer.port}: '<html><body>502 Bad Gateway</body></html>'"
    )
    assert elapsed_s < SLACK_S
    assert never_retrieved == []


async def test_a_command_after_login_unanswered_is_a_timeout_of_that_step() -> None:
    script = imap_peer(b"* OK [CAPABILITY IMAP4rev1] ready\r\n", LOGIN=LOGGED_IN)
    async with Responder(script) as peer:
        ctx = context()
        started = time.monotonic()
        with pytest.raises(ProbeFailure) as excinfo:
            async with ImapSession(endpoint(peer.port), ctx) as session:
                ctx.stage = "imap_protocol"
                await session.select("INBOX")
        elapsed_s = time.monotonic() - started

    assert excinfo.value.stage == "imap_protocol"
    assert excinfo.value.summary == (
        f"no answer from 127.0.0.1:{peer.port} within 0.5 s during imap_protocol"
    )
    # The SELECT's bound, then no LOGOUT waited for on a session that stopped answering.
    assert elapsed_s < TIMEOUT_S + SLACK_S


async def test_a_server_that_closes_after_the_greeting_is_named() -> None:
    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK ready\r\n")
        await writer.drain()
        await reader.readline()
        writer.close()

    async with Responder(hangs_up) as peer:
        failure, elapsed_s = await fails(endpoint(peer.port, command_timeout_s=30))

    assert failure.stage == "imap_connect"
    assert failure.summary == f"127.0.0.1:{peer.port} closed the connection during imap_connect"
    assert elapsed_s < SLACK_S


async def test_a_closed_port_is_connection_refused() -> None:
    port = free_port()
    failure, _ = await fails(endpoint(port))

    assert failure.stage == "imap_connect"
    assert failure.summary == f"connection refused by 127.0.0.1:{port}"


async def test_a_session_cut_off_from_outside_stops_at_once() -> None:
    """The caller's timeout (the check's ``timeout_s``) ends the session without a LOGOUT
    that would keep it waiting on a silent server."""
    async with Responder(greets(b"* OK ready\r\n")) as peer:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                async with ImapSession(endpoint(peer.port, command_timeout_s=30), context()):
                    pass
        elapsed_s = time.monotonic() - started

    assert elapsed_s < 0.5 + SLACK_S


async def test_dovecot_session_logs_in_selects_and_knows_a_missing_folder(
    mail_servers: MailServers,
) -> None:
    imap = endpoint(
        mail_servers.imap_port,
        host="localhost",
        tls="starttls",
        ca_file=str(mail_servers.ca_file),
        username=mail_servers.canary,
        password=mail_servers.password,
        command_timeout_s=10,
    )
    async with ImapSession(imap, context()) as session:
        assert session.has_idle
        assert await session.select("INBOX")
        assert await session.status("No-Such-Folder") is None
        assert await session.status("INBOX") is not None
        assert await session.idle(0.2) is None
        await session.noop()
        assert await session.search_header("X-Mailwatch-Canary", "nothing-like-this") == []

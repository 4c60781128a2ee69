"""Greeting an SMTP server without sending (the mx check's port-25 conversation): real SMTP
servers (aiosmtpd) on loopback for the servers that work, and scripted loopback peers
(``helpers.tcp_responders``) for the ones no real server imitates on purpose: a refusing
banner, a rejected EHLO, a tarpit, a peer that hangs up, a peer that is not SMTP."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from harness.certs import make_self_signed
from helpers.tcp_responders import Responder, free_port, sends_and_closes, tarpit
from mailwatch.domain.errors import SmtpUnreachable
from mailwatch.protocols.smtp import greet

HELO = "probe.mailwatch.test"


class _AcceptEverything:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture
def smtp_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    """aiosmtpd on 127.0.0.1; it offers STARTTLS when the test is parametrized with True."""
    tls = None
    if getattr(request, "param", False):
        cert, key = make_self_signed(tmp_path, "mx.test", hostnames=["mx.test"])
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(cert, key)
    server = Controller(
        _AcceptEverything(), hostname="127.0.0.1", port=free_port(), tls_context=tls
    )
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


@pytest.mark.parametrize("smtp_server", [True, False], indirect=True, ids=["starttls", "plain"])
async def test_a_server_that_greets_gives_its_banner_and_starttls_offer(
    smtp_server: int, request: pytest.FixtureRequest
) -> None:
    offers_starttls = request.node.callspec.params["smtp_server"]

    greeting = await greet("127.0.0.1", smtp_server, HELO, 5)

    assert greeting.address == "127.0.0.1"
    assert "SMTP" in greeting.banner
    assert not greeting.banner.startswith("220")
    assert greeting.starttls is offers_starttls
    assert 0 < greeting.elapsed_s < 5


def scripted_smtp(
    banner: bytes, ehlo_reply: bytes = b"250 mx.test\r\n", said: list[bytes] | None = None
) -> Any:
    """Banner, a reply to the first command, 221 to QUIT; what the client said in ``said``."""

    async def behaviour(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        await writer.drain()
        for reply in (ehlo_reply, b"221 bye\r\n"):
            line = await reader.readline()
            if not line:
                return
            if said is not None:
                said.append(line)
            writer.write(reply)
            await writer.drain()
        await reader.read()

    return behaviour


async def test_the_conversation_is_ehlo_then_quit_with_the_first_banner_line() -> None:
    said: list[bytes] = []
    script = scripted_smtp(
        b"220-mx.test first line\r\n220 second line\r\n",
        b"250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
        said,
    )
    async with Responder(script) as peer:
        greeting = await greet("127.0.0.1", peer.port, HELO, 5)

    assert greeting.banner == "mx.test first line"
    assert greeting.starttls is True
    assert said == [f"EHLO {HELO}\r\n".encode(), b"QUIT\r\n"]


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (scripted_smtp(b"554 5.7.1 no\r\n"), "refuses sessions: 554 5.7.1 no"),
        (
            scripted_smtp(b"220 mx.test\r\n", b"550-5.7.1 go away\r\n550 really\r\n"),
            "rejected EHLO: 550 5.7.1 go away",
        ),
        (sends_and_closes(b""), "closed the connection before the banner"),
        (sends_and_closes(b"220 mx.te"), "closed the connection before the banner"),
        (
            sends_and_closes(b"SSH-2.0-OpenSSH_9.2p1\r\n"),
            "does not speak SMTP (unexpected line 'SSH-2.0-OpenSSH_9.2p1')",
        ),
    ],
    ids=["banner_554", "ehlo_550", "hangs_up", "hangs_up_mid_banner", "not_smtp"],
)
async def test_a_peer_that_cannot_be_greeted_is_unreachable_with_the_reason(
    script: Any, reason: str
) -> None:
    async with Responder(script) as peer:
        with pytest.raises(SmtpUnreachable) as excinfo:
            await greet("127.0.0.1", peer.port, HELO, 5)

    assert str(excinfo.value) == f"127.0.0.1:{peer.port} {reason}"


async def test_a_closed_port_is_connection_refused() -> None:
    port = free_port()
    with pytest.raises(SmtpUnreachable) as excinfo:
        await greet("127.0.0.1", port, HELO, 5)
    assert str(excinfo.value) == f"connection refused by 127.0.0.1:{port}"


async def test_a_tarpit_is_cut_off_at_the_timeout_naming_the_banner() -> None:
    async with Responder(tarpit()) as peer:
        started = time.monotonic()
        with pytest.raises(SmtpUnreachable) as excinfo:
            await greet("127.0.0.1", peer.port, HELO, 0.3)
    assert str(excinfo.value) == f"no answer from 127.0.0.1:{peer.port} within 0.3 s during banner"

    assert time.monotonic() - started < 2


async def test_an_unanswered_quit_does_not_outlast_the_timeout() -> None:
    """The host greeted: a QUIT without a reply changes nothing, and is not waited for long."""

    async def no_goodbye(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test\r\n")
        await reader.readline()
        writer.write(b"250 mx.test\r\n")
        await writer.drain()
        await asyncio.Event().wait()

    async with Responder(no_goodbye) as peer:
        started = time.monotonic()
        greeting = await greet("127.0.0.1", peer.port, HELO, 0.3)

    assert greeting.starttls is False
    assert time.monotonic() - started < 1

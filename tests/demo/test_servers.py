"""The demo's embedded mail servers: aiosmtpd delivering into a Maildir, pymap serving it over
IMAP, and the alert receiver. Real servers and real clients (aiosmtplib, aioimaplib, apprise)
on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aioimaplib
import aiosmtplib
import pytest

from helpers.maildir import maildir_count
from mailwatch.alerts.apprise_setup import load_apprise
from mailwatch.demo.servers import HOST, AlertReceiver, DemoServers

MESSAGE = b"From: someone@example.test\r\nSubject: hello\r\n\r\nhello\r\n"


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[DemoServers]:
    async with DemoServers(tmp_path) as running:
        yield running


async def send(servers: DemoServers, recipient: str | None = None) -> str:
    errors, reply = await aiosmtplib.send(
        MESSAGE,
        sender="someone@example.test",
        recipients=[recipient or servers.mailbox.address],
        hostname=HOST,
        port=servers.smtp_port,
        timeout=10,
    )
    assert not errors
    return reply


async def test_mail_is_delivered_into_the_maildir_with_a_received_header(
    servers: DemoServers,
) -> None:
    reply = await send(servers)
    assert reply.startswith("2.0.0 Ok: queued as ")
    assert maildir_count(servers) == 1
    (path,) = (servers.mailbox.maildir / "new").iterdir()
    content = path.read_bytes()
    assert content.startswith(b"Received: from ")
    assert b"for <canary@demo.mailwatch.test>;" in content
    assert content.endswith(MESSAGE)


async def test_held_mail_is_accepted_but_delivered_only_on_release(
    servers: DemoServers,
) -> None:
    servers.hold()
    first = await send(servers)
    second = await send(servers)
    # Accepted with the same reply as delivered mail: a stalled queue does not say so.
    assert first.startswith("2.0.0 Ok: queued as ") and second != first
    assert servers.held_count == 2
    assert maildir_count(servers) == 0

    assert servers.release() == 2
    assert servers.held_count == 0
    assert maildir_count(servers) == 2
    await send(servers)
    assert maildir_count(servers) == 3, "released: new mail is delivered at once"


async def test_unknown_recipients_are_refused(servers: DemoServers) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(servers, "nobody@demo.mailwatch.test")
    assert refused.value.recipients[0].code == 550
    assert maildir_count(servers) == 0


async def test_imap_idle_announces_mail_delivered_over_smtp(servers: DemoServers) -> None:
    client = aioimaplib.IMAP4(host=HOST, port=servers.imap_port, timeout=10)
    await client.wait_hello_from_server()
    try:
        login = await client.login(servers.mailbox.address, servers.mailbox.password)
        assert login.result == "OK", login
        assert "IDLE" in client.protocol.capabilities
        selected = await client.select("INBOX")
        assert selected.result == "OK", selected
        assert b"0 EXISTS" in selected.lines

        idle = await client.idle_start(timeout=30)
        await send(servers)
        # pymap rescans the Maildir about once a second while a client idles.
        pushed = await client.wait_server_push(timeout=10)
        assert b"1 EXISTS" in pushed, pushed
        client.idle_done()
        done = await asyncio.wait_for(idle, 10)
        assert done.result == "OK", done
    finally:
        await client.logout()


async def test_imap_refuses_a_wrong_password(servers: DemoServers) -> None:
    client = aioimaplib.IMAP4(host=HOST, port=servers.imap_port, timeout=10)
    await client.wait_hello_from_server()
    try:
        login = await client.login(servers.mailbox.address, "wrong")
        assert login.result != "OK"
    finally:
        await client.logout()


def test_the_alert_receiver_takes_what_apprise_json_posts() -> None:
    apprise = load_apprise()  # the way mailwatch loads it (plugins once, imghdr's warning)
    with AlertReceiver() as receiver:
        notifier = apprise.Apprise()
        assert notifier.add(receiver.url("team"))
        assert notifier.notify(
            title="[MW-000001] SEV1 canary-demo: not_delivered",
            body="SEV1 ticket MW-000001 opened",
            notify_type=apprise.NotifyType.FAILURE,
        )
        (alert,) = receiver.received()
    assert alert.route == "team"
    assert alert.title == "[MW-000001] SEV1 canary-demo: not_delivered"
    assert alert.body == "SEV1 ticket MW-000001 opened"
    assert alert.level == "failure"

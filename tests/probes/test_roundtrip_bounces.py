"""Bounces caught at once: real Postfix accepts the canary, relays it to a server that refuses
the recipient, and sends the envelope sender a delivery status notification that real Dovecot
holds; the round trip reads it and fails with stage ``bounced`` without waiting its deadline.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from harness.mailservers import MailServers
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.results import State
from mailwatch.probes.roundtrip.canary import Canary
from mailwatch.runner import run_check

from .test_roundtrip import assert_mailbox_empty, route

SENDER = "bounces"
DEADLINE_S = 60
"""Long: a run that reports ``bounced`` has not waited for it (it would say not_delivered)."""


@pytest.fixture
def servers(mail_servers: MailServers) -> Iterator[MailServers]:
    """The harness with a mailbox for the envelope sender; mailboxes empty, nothing held."""
    mail_servers.add_users([SENDER])
    _reset(mail_servers)
    yield mail_servers
    _reset(mail_servers)


def _reset(servers: MailServers) -> None:
    servers.release_delivery()
    for user in ("canary", SENDER):
        for path in servers.maildir_files(user):
            path.unlink(missing_ok=True)


def unknown_user(servers: MailServers, local: str = "nobody") -> str:
    """An address Postfix accepts, relays, and then bounces: the next hop knows no such user."""
    return f"{local}@{servers.bouncing_domain}"


def sender_imap(servers: MailServers) -> dict[str, Any]:
    return {
        "host": "localhost",
        "port": servers.imap_port,
        "tls": "starttls",
        "ca_file": str(servers.ca_file),
        "username": servers.address(SENDER),
        "password": servers.password,
        "poll_interval_s": 0.5,
    }


def bouncing_route(servers: MailServers, **extra: Any) -> RoundtripCheck:
    settings: dict[str, Any] = {
        "mail_from": servers.address(SENDER),
        "rcpt_to": unknown_user(servers),
        "deadline_s": DEADLINE_S,
        "learn_deadline": False,
        "bounces": {"imap": sender_imap(servers)},
    }
    return route(servers, **{**settings, **extra})


def send_and_wait_for_bounce(servers: MailServers, message: bytes) -> None:
    """Send ``message`` from the envelope sender to an unknown user; return once its bounce
    is in the sender's mailbox."""
    before = len(servers.maildir_files(SENDER))
    with smtplib.SMTP(servers.host, servers.smtp_port, timeout=10) as smtp:
        smtp.sendmail(servers.address(SENDER), [unknown_user(servers, "someone")], message)
    servers.wait_for_maildir(SENDER, before + 1)


def a_persons_message(servers: MailServers) -> EmailMessage:
    message = EmailMessage()
    message["From"] = servers.address(SENDER)
    message["To"] = unknown_user(servers, "someone")
    message["Subject"] = "lunch?"
    message.set_content("a person's mail, which bounces too")
    return message


def reports_in(servers: MailServers, user: str = SENDER) -> list[bytes]:
    return [path.read_bytes() for path in servers.maildir_files(user)]


async def test_a_bounced_canary_fails_at_once_with_the_reason(servers: MailServers) -> None:
    result = await run_check(bouncing_route(servers))

    assert result.state is State.CRITICAL, result.summary
    assert result.stage == "bounced", result.summary
    # The next hop's own words, as the report carried them: who refused, the status, the text.
    assert result.summary.startswith(
        f"canary to {unknown_user(servers)} bounced by 127.0.0.1: 5.1.1 "
        "<nobody@example.test>: Recipient address rejected: User unknown"
    ), result.summary
    assert result.details["bounce"]["status"] == "5.1.1"
    assert result.details["bounce"]["reporting_mta"] == "mail.example.test"
    assert result.metrics["bounced_s"] > 0
    print(f"\nbounced run: {result.state.name} {result.stage}: {result.summary}")
    # The report is deleted like a canary.
    assert reports_in(servers) == []


async def test_the_same_account_reads_its_own_bounces(servers: MailServers) -> None:
    """``same_account``: the check's IMAP account is the envelope sender's mailbox."""
    check = bouncing_route(
        servers,
        imap={"username": servers.address(SENDER)},
        bounces={"same_account": True},
    )
    result = await run_check(check)

    assert result.stage == "bounced", result.summary
    assert "5.1.1 <nobody@example.test>: Recipient address rejected" in result.summary
    assert reports_in(servers) == []


async def test_other_reports_are_left_alone_and_a_normal_run_is_unaffected(
    servers: MailServers,
) -> None:
    """A bounce of a person's message, and one of another check's canary, arrive in the
    sender's mailbox between two runs; the second run reads past them, leaves both, and its
    own canary is delivered as ever."""
    check = route(
        servers,
        mail_from=servers.address(SENDER),
        bounces={"imap": sender_imap(servers)},
    )
    memory: dict[str, Any] = {}
    first = await run_check(check, memory)
    assert first.state is State.OK, first.summary

    send_and_wait_for_bounce(servers, a_persons_message(servers).as_bytes())
    other = Canary.new("another-check")
    send_and_wait_for_bounce(
        servers, other.message(servers.address(SENDER), unknown_user(servers, "someone"))
    )
    before = reports_in(servers)
    assert len(before) == 2

    second = await run_check(check, memory)

    assert second.state is State.OK, second.summary
    assert second.stage is None
    assert second.summary.startswith("canary delivered in ")
    assert "earlier_bounces" not in second.details
    assert sorted(reports_in(servers)) == sorted(before)
    assert_mailbox_empty(servers)


async def test_a_bounce_that_comes_after_its_run_gave_up_is_found_by_the_next_run(
    servers: MailServers,
) -> None:
    """The canary is held until its run has given up (``not_delivered``); released, it
    bounces, and the next run of the check reports that bounce in its details and deletes it."""
    servers.hold_delivery()
    memory: dict[str, Any] = {}
    held = await run_check(bouncing_route(servers, deadline_s=2), memory)
    assert held.stage == "not_delivered", held.summary
    servers.release_delivery()
    servers.wait_for_maildir(SENDER, 1)

    later = await run_check(bouncing_route(servers, rcpt_to=servers.canary), memory)

    assert later.state is State.OK, later.summary
    assert later.summary.endswith(
        "; an earlier canary bounced (5.1.1 <nobody@example.test>: Recipient address rejected: "
        "User unknown in virtual mailbox table)"
    ), later.summary
    [earlier] = later.details["earlier_bounces"]
    assert earlier["canary"] == held.details["canary"]
    assert earlier["status"] == "5.1.1"
    assert reports_in(servers) == []
    assert_mailbox_empty(servers)


async def test_a_bounce_mailbox_that_refuses_the_login_is_named(servers: MailServers) -> None:
    """A wrong password for the bounce mailbox fails the run as the canary's account would,
    naming that account."""
    check = bouncing_route(servers, bounces={"imap": {**sender_imap(servers), "password": "wrong"}})
    result = await run_check(check)

    assert result.stage == "imap_auth", result.summary
    assert f"refused the login of {servers.address(SENDER)}" in result.summary
    assert "wrong" not in result.summary

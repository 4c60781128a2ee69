"""E-mail alerts through apprise ``mailto://`` into the test Postfix, read back from the Dovecot
Maildir: the subject is the title and the body tells how to acknowledge."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from harness.mailservers import MailServers
from mailwatch.alerts.delivery import deliver
from mailwatch.alerts.messages import NoticeFacts, render
from mailwatch.alerts.routes import Route
from mailwatch.config.routes import RouteConfig
from mailwatch.domain.notices import NoticeKind

USER = "alerts-inbox"
FACTS = NoticeFacts(
    ticket="MW-000042",
    severity=1,
    check="canary-main",
    target="mail.example.test",
    kind=NoticeKind.OPENED,
    stage="not_delivered",
    summary="canary not delivered within 120 s",
    since=datetime(2026, 11, 20, 14, 3, tzinfo=UTC),
)
NOW = datetime(2026, 11, 20, 14, 20, tzinfo=UTC)


@pytest.fixture
def inbox(mail_servers: MailServers) -> Iterator[MailServers]:
    """A mailbox of its own, empty before and after the test."""
    mail_servers.add_users([USER])
    for path in mail_servers.maildir_files(USER):
        path.unlink()
    yield mail_servers
    for path in mail_servers.maildir_files(USER):
        path.unlink()


def read_only_message(servers: MailServers) -> EmailMessage:
    [path] = servers.wait_for_maildir(USER, 1, timeout_s=20)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(
    "mode",
    [
        "mode=insecure",
        # STARTTLS on the same port; apprise trusts only the system store, which lacks the
        # harness CA (the notify-test tests verify it through SSL_CERT_FILE).
        "mode=starttls&verify=no",
    ],
)
async def test_email_alert_arrives_with_title_as_subject(inbox: MailServers, mode: str) -> None:
    to = inbox.address(USER)
    url = (
        f"mailto://{inbox.host}:{inbox.smtp_port}"
        f"?to={to}&from=mailwatch@example.test&name=mailwatch&{mode}"
    )
    message = render(FACTS, now=NOW)
    outcome = await deliver(
        Route("mail", RouteConfig(urls=[url])),  # type: ignore[list-item]
        message.title,
        message.body,
        30,
        level=message.level,
    )
    assert outcome.ok, outcome
    # apprise writes STARTTLS as mailtos://; either way the recipient shows, nothing secret.
    assert f"://{inbox.host}:{inbox.smtp_port}/alerts-inbox%40example.test?" in (
        outcome.per_url[0].masked_url
    )

    received = read_only_message(inbox)
    assert received["Subject"] == "[MW-000042] SEV1 canary-main: not_delivered"
    assert received["To"] == to
    assert "mailwatch@example.test" in received["From"]
    part = received.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()
    assert "SEV1 ticket MW-000042 opened: canary-main (mail.example.test) is failing." in text
    assert "Acknowledge: mailwatch ack MW-000042" in text

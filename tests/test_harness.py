"""The real-server harness works: checked with the standard library only."""

from __future__ import annotations

import imaplib
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from harness.mailservers import MailServers

TIMEOUT_S = 15.0


def _eventually(check: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    """Poll ``check`` until it is true or the deadline passes."""
    end = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.1)


def _message(sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, to
    msg["Subject"] = f"harness-test {uuid.uuid4().hex}"
    msg.set_content("hello from test_harness\n")
    return msg


def _send_plain(ms: MailServers, to: str) -> EmailMessage:
    msg = _message(ms.second, to)
    with smtplib.SMTP(ms.host, ms.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)
    return msg


def _in_maildir(ms: MailServers, user: str, subject: str, folder: str = "") -> bool:
    needle = subject.encode()
    return any(needle in f.read_bytes() for f in ms.maildir_files(user, folder))


def _imap_finds(imap: imaplib.IMAP4, folder: str, subject: str) -> bool:
    typ, _ = imap.select(folder, readonly=True)
    assert typ == "OK"
    typ, data = imap.search(None, "SUBJECT", f'"{subject}"')
    assert typ == "OK"
    return bool(data[0].split())


def _capabilities(imap: imaplib.IMAP4) -> set[str]:
    typ, data = imap.capability()
    assert typ == "OK"
    return set(data[0].decode().upper().split())


def test_plain_smtp_to_imap_with_starttls(mail_servers: MailServers) -> None:
    ms = mail_servers
    with smtplib.SMTP(ms.host, ms.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        msg = _message(ms.second, ms.canary)
        smtp.send_message(msg)

    with imaplib.IMAP4(ms.host, ms.imap_port, timeout=10) as imap:
        imap.starttls(ssl_context=ms.ssl_context())
        imap.login(ms.canary, ms.password)
        assert _eventually(lambda: _imap_finds(imap, "INBOX", msg["Subject"]))


def test_submission_requires_starttls_then_auth(mail_servers: MailServers) -> None:
    ms = mail_servers
    with smtplib.SMTP(ms.host, ms.submission_port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth"), "AUTH must not be offered before TLS"
        smtp.starttls(context=ms.ssl_context())
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"].upper()
        # Unauthenticated submission is refused.
        smtp.mail(ms.canary)
        code, _ = smtp.rcpt(ms.second)
        assert code >= 500
        smtp.rset()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(ms.canary, "wrong-password")
        smtp.login(ms.canary, ms.password)
        msg = _message(ms.canary, ms.second)
        smtp.send_message(msg)
    assert _eventually(lambda: _in_maildir(ms, ms.second, msg["Subject"]))


def test_implicit_tls_smtps_and_imaps(mail_servers: MailServers) -> None:
    ms = mail_servers
    with smtplib.SMTP_SSL(ms.host, ms.smtps_port, context=ms.ssl_context(), timeout=10) as smtp:
        smtp.login(ms.second, ms.password)
        msg = _message(ms.second, ms.canary)
        smtp.send_message(msg)
    with imaplib.IMAP4_SSL(
        ms.host, ms.imaps_port, ssl_context=ms.ssl_context(), timeout=10
    ) as imap:
        imap.login(ms.canary, ms.password)
        assert _eventually(lambda: _imap_finds(imap, "INBOX", msg["Subject"]))


@pytest.mark.parametrize("service", ["smtps", "imaps"])
def test_unknown_ca_listeners_fail_verification(mail_servers: MailServers, service: str) -> None:
    ms = mail_servers

    def connect(context: ssl.SSLContext) -> None:
        if service == "smtps":
            with smtplib.SMTP_SSL(
                ms.host, ms.smtps_unknown_ca_port, context=context, timeout=10
            ) as smtp:
                smtp.noop()
        else:
            with imaplib.IMAP4_SSL(
                ms.host, ms.imaps_unknown_ca_port, ssl_context=context, timeout=10
            ) as imap:
                imap.noop()

    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        connect(ms.ssl_context())
    # The same listener is fine for a client that trusts the other CA: only
    # the issuer is wrong, not the name or the dates.
    connect(ssl.create_default_context(cafile=str(ms.unknown_ca_file)))


def test_noidle_instance_lacks_idle(mail_servers: MailServers) -> None:
    ms = mail_servers
    with imaplib.IMAP4(ms.host, ms.imap_port, timeout=10) as imap:
        imap.login(ms.canary, ms.password)
        assert "IDLE" in _capabilities(imap)
    with imaplib.IMAP4(ms.host, ms.imap_noidle_port, timeout=10) as imap:
        assert "IDLE" not in _capabilities(imap)
        imap.login(ms.canary, ms.password)
        caps = _capabilities(imap)
        assert "IDLE" not in caps and "IMAP4REV1" in caps
        typ, _ = imap.select("INBOX", readonly=True)
        assert typ == "OK"


def test_junk_user_mail_lands_in_junk_folder(mail_servers: MailServers) -> None:
    ms = mail_servers
    msg = _send_plain(ms, ms.junk)
    assert _eventually(lambda: _in_maildir(ms, ms.junk, msg["Subject"], "Junk"))
    with imaplib.IMAP4(ms.host, ms.imap_port, timeout=10) as imap:
        imap.login(ms.junk, ms.password)
        typ, listing = imap.list()
        assert typ == "OK"
        assert any(isinstance(line, bytes) and line.endswith(b" Junk") for line in listing)
        assert _imap_finds(imap, "Junk", msg["Subject"])
        assert not _imap_finds(imap, "INBOX", msg["Subject"])


def test_hold_keeps_mail_queued_until_release(mail_servers: MailServers) -> None:
    ms = mail_servers
    ms.hold_delivery()
    try:
        msg = _message(ms.canary, ms.second)
        with smtplib.SMTP(ms.host, ms.smtp_port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail(ms.canary)
            smtp.rcpt(ms.second)
            code, reply = smtp.data(msg.as_bytes())
        assert code == 250, reply
        queue_id = reply.decode().rsplit(" ", 1)[-1]
        # The hold queue is never scanned by the queue manager, so a message
        # there cannot be delivered; check both sides anyway.
        assert queue_id in ms.queue_ids("hold")
        assert not _in_maildir(ms, ms.second, msg["Subject"])
    finally:
        ms.release_delivery()
    assert _eventually(lambda: _in_maildir(ms, ms.second, msg["Subject"]))
    # local(8) writes the Maildir file before it reports success to qmgr, which
    # then removes the queue file: the two happen a moment apart.
    assert _eventually(lambda: queue_id not in ms.queue_ids())


def test_add_users_creates_working_mailboxes(mail_servers: MailServers) -> None:
    ms = mail_servers
    names = [f"extra{i}" for i in range(3)]
    ms.add_users(names)
    msg = _send_plain(ms, ms.address(names[-1]))
    ms.wait_for_maildir(names[-1], 1, TIMEOUT_S)
    with imaplib.IMAP4(ms.host, ms.imap_port, timeout=10) as imap:
        imap.login(ms.address(names[-1]), ms.password)
        assert _imap_finds(imap, "INBOX", msg["Subject"])


def test_postfix_and_dovecot_stop_and_start(mail_servers: MailServers) -> None:
    ms = mail_servers
    ms.stop_postfix()
    try:
        with pytest.raises(OSError):
            smtplib.SMTP(ms.host, ms.smtp_port, timeout=5)
    finally:
        ms.start_postfix()
    ms.stop_dovecot()
    try:
        with pytest.raises(OSError):
            imaplib.IMAP4(ms.host, ms.imap_port, timeout=5)
    finally:
        ms.start_dovecot()
    msg = _send_plain(ms, ms.canary)
    assert _eventually(lambda: _in_maildir(ms, ms.canary, msg["Subject"]))
    with imaplib.IMAP4_SSL(
        ms.host, ms.imaps_port, ssl_context=ms.ssl_context(), timeout=10
    ) as imap:
        imap.login(ms.canary, ms.password)
        assert _imap_finds(imap, "INBOX", msg["Subject"])

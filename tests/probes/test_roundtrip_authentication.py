"""The receiver's verdict on the canary, against a real DKIM path: Postfix signs through
OpenDKIM with a key dnsmasq publishes, relays the canary to a receiving smtpd whose OpenDKIM
verifies it and writes Authentication-Results, and Dovecot serves it (tests/harness/opendkim.py).

SPF and DMARC are not checked by anything here (no SPF policy daemon or OpenDMARC can be
pointed at dnsmasq's port); expecting them is tested on the real headers, where they are
missing.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import pytest

from harness.dnsmasq import DnsServer
from harness.mailservers import (
    DKIM_AUTHSERV_ID,
    DKIM_SIGN_PORT,
    DKIM_UNSIGNED_PORT,
    MailServers,
)
from harness.opendkim import STALE_SENDER, OpenDkim
from mailwatch.config.checks.roundtrip import RoundtripCheck, RoundtripStage
from mailwatch.domain.results import State
from mailwatch.probes.roundtrip.authresults import receiver_verdict, shortfalls
from mailwatch.runner import run_check


@pytest.fixture(scope="module")
def opendkim(mail_servers: MailServers, dns_server: DnsServer) -> Iterator[OpenDkim]:
    assert dns_server.dkim_keys is not None
    milter = OpenDkim(dns_server.dkim_keys, dns_server.port)
    try:
        milter.start()
    except Exception as exc:  # the same rule as every harness server (fixtures.py)
        pytest.fail(f"opendkim could not start: {type(exc).__name__}: {exc}", pytrace=False)
    yield milter
    milter.stop()


@pytest.fixture
def servers(mail_servers: MailServers, opendkim: OpenDkim) -> Iterator[MailServers]:
    _empty(mail_servers)
    yield mail_servers
    _empty(mail_servers)


def _empty(servers: MailServers) -> None:
    for path in servers.maildir_files("canary"):
        path.unlink(missing_ok=True)


def check(
    servers: MailServers,
    dns: DnsServer,
    *,
    port: int = DKIM_SIGN_PORT,
    mail_from: str = "mailwatch@example.test",
    **extra: Any,
) -> RoundtripCheck:
    return RoundtripCheck.model_validate(
        {
            "name": "auth",
            "mail_from": mail_from,
            "rcpt_to": servers.canary,
            "deadline_s": 15,
            "smtp": {"host": "127.0.0.1", "port": port, "tls": "none"},
            "imap": {
                "host": "localhost",
                "port": servers.imap_port,
                "tls": "starttls",
                "ca_file": str(servers.ca_file),
                "username": servers.canary,
                "password": servers.password,
                "poll_interval_s": 0.5,
            },
            "resolver": dns.resolver(),
            **extra,
        }
    )


RECEIVER = {"expect_authentication": ["dkim"], "authserv_id": [DKIM_AUTHSERV_ID]}


async def test_signed_canary_passes_at_the_receiver_and_in_our_own_check(
    servers: MailServers, dns_server: DnsServer
) -> None:
    result = await run_check(check(servers, dns_server, verify_dkim=True, **RECEIVER))
    assert result.state is State.OK, result.summary
    assert result.metrics["auth_dkim_pass"] == 1
    assert result.metrics["dkim_verified"] == 1
    (dkim,) = result.details["authentication"]["results"][:1]
    assert (dkim["method"], dkim["result"]) == ("dkim", "pass")
    assert dkim["properties"]["header.d"] == "example.test"
    assert result.details["dkim_verified"]["properties"]["header.s"] == "mw"
    assert servers.maildir_files("canary") == []


async def test_wrong_published_key_is_auth_failed_naming_dkim(
    servers: MailServers, dns_server: DnsServer
) -> None:
    # The signer uses selector "stale", whose DNS record holds another key.
    result = await run_check(
        check(servers, dns_server, mail_from=STALE_SENDER, verify_dkim=True, **RECEIVER)
    )
    assert result.state is State.WARNING
    assert result.stage == RoundtripStage.AUTH_FAILED
    assert (
        f"but dkim=fail (signature verification failed) from {DKIM_AUTHSERV_ID}" in result.summary
    )
    assert "dkim=fail (" in result.summary.split(";")[-1]
    assert "checked by mailwatch for example.test" in result.summary
    assert "\n" not in result.summary
    assert result.metrics["auth_dkim_pass"] == 0
    assert result.metrics["dkim_verified"] == 0
    assert servers.maildir_files("canary") == []


async def test_signing_switched_off_is_auth_failed(
    servers: MailServers, dns_server: DnsServer
) -> None:
    result = await run_check(
        check(servers, dns_server, port=DKIM_UNSIGNED_PORT, verify_dkim=True, **RECEIVER)
    )
    assert result.stage == RoundtripStage.AUTH_FAILED, result.summary
    assert f"dkim=none from {DKIM_AUTHSERV_ID}" in result.summary
    assert (
        "dkim=none (no DKIM signature of example.test) checked by mailwatch for example.test"
        in result.summary
    )


async def test_our_own_check_alone_sees_unsigned_canary(
    servers: MailServers, dns_server: DnsServer
) -> None:
    result = await run_check(check(servers, dns_server, port=DKIM_UNSIGNED_PORT, verify_dkim=True))
    assert result.stage == RoundtripStage.AUTH_FAILED
    assert "authentication" not in result.details
    assert "auth_dkim_pass" not in result.metrics


async def test_expected_methods_nobody_checked_are_missing(
    servers: MailServers, dns_server: DnsServer
) -> None:
    result = await run_check(
        check(
            servers,
            dns_server,
            expect_authentication=["spf", "dkim", "dmarc"],
            authserv_id=[DKIM_AUTHSERV_ID],
        )
    )
    assert result.stage == RoundtripStage.AUTH_FAILED
    assert result.summary.endswith(
        "but spf=missing (no result written), dmarc=missing (no result written) "
        f"from {DKIM_AUTHSERV_ID}"
    )
    assert result.metrics["auth_dkim_pass"] == 1
    assert result.metrics["auth_spf_pass"] == result.metrics["auth_dmarc_pass"] == 0


async def test_default_authserv_id_is_the_imap_host_and_the_summary_says_what_is_there(
    servers: MailServers, dns_server: DnsServer
) -> None:
    result = await run_check(check(servers, dns_server, expect_authentication=["dkim"]))
    assert result.stage == RoundtripStage.AUTH_FAILED
    assert result.summary.endswith(
        "but dkim not reported: no Authentication-Results from localhost "
        f"(the canary has some from {DKIM_AUTHSERV_ID}: see authserv_id)"
    )


async def test_key_lookup_that_times_out_is_a_temporary_error(
    servers: MailServers, dns_server: DnsServer, silent_nameserver: int
) -> None:
    silent = {"nameservers": ["127.0.0.1"], "port": silent_nameserver, "query_timeout_s": 1}
    result = await run_check(check(servers, dns_server, verify_dkim=True, resolver=silent))
    assert result.stage == RoundtripStage.AUTH_FAILED
    assert "dkim=temperror (TXT lookup of mw._domainkey.example.test timed out" in result.summary
    assert servers.maildir_files("canary") == []


def test_a_pass_forged_by_the_sender_does_not_count(servers: MailServers) -> None:
    """Unsigned mail whose sender wrote the receiver's id and dkim=pass into it: the verdict
    read from the delivered message is still the receiver's own, dkim=none."""
    forged = EmailMessage()
    forged["From"] = "mailwatch@example.test"
    forged["To"] = servers.canary
    forged["Subject"] = "forged verdict"
    forged["Authentication-Results"] = f"{DKIM_AUTHSERV_ID}; dkim=pass header.d=example.test"
    forged.set_content("not signed\n")
    with smtplib.SMTP(servers.host, DKIM_UNSIGNED_PORT, timeout=10) as smtp:
        smtp.send_message(forged)
    [path] = servers.wait_for_maildir("canary", 1)
    delivered = message_from_bytes(path.read_bytes())
    verdict = receiver_verdict(delivered.items(), [DKIM_AUTHSERV_ID])
    assert [s.described() for s in shortfalls(verdict, ["dkim"])] == ["dkim=none"]

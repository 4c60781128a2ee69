"""OAuth2 logins of the round trip against the harness's real Dovecot (oauth2 passdb) and
Postfix (SMTP AUTH through that Dovecot), with tokens from the test's authorization server
(tests/harness/oauth2server.py), which is also the introspection endpoint Dovecot asks."""

from __future__ import annotations

import asyncio
import imaplib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures import serve_for_session
from harness.mailservers import MailServers
from harness.oauth2server import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    APP_SCOPE,
    REFRESH_TOKEN,
    USER,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    OAuth2Server,
)
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes.roundtrip.tokens import TOKENS
from mailwatch.runner import run_check

SECRETS = (APP_CLIENT_SECRET, WEB_CLIENT_SECRET, REFRESH_TOKEN)


@pytest.fixture(scope="module")
def oauth2_server() -> Iterator[OAuth2Server]:
    yield from serve_for_session(OAuth2Server(), "OAuth2 test server")


@pytest.fixture
def oauth2(oauth2_server: OAuth2Server, mail_servers: MailServers) -> Iterator[OAuth2Server]:
    """A fresh authorization server and token cache, empty mailboxes, before each test."""
    oauth2_server.reset()
    TOKENS.clear()
    _empty(mail_servers)
    yield oauth2_server
    TOKENS.clear()
    _empty(mail_servers)


def _empty(servers: MailServers) -> None:
    for path in servers.maildir_files("canary"):
        path.unlink(missing_ok=True)


def client_credentials(server: OAuth2Server) -> dict[str, Any]:
    return {
        "token_url": server.token_url,
        "client_id": APP_CLIENT_ID,
        "client_secret": APP_CLIENT_SECRET,
        "scope": APP_SCOPE,
    }


def refresh_grant(server: OAuth2Server) -> dict[str, Any]:
    return {
        "token_url": server.token_url,
        "client_id": WEB_CLIENT_ID,
        "client_secret": WEB_CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    }


def oauth_route(
    servers: MailServers,
    mechanism: str,
    grant: dict[str, Any],
    smtp_grant: dict[str, Any] | None = None,
    **imap: Any,
) -> RoundtripCheck:
    return RoundtripCheck.model_validate(
        {
            "name": "rt-oauth",
            "mail_from": "mailwatch@example.test",
            "rcpt_to": USER,
            "deadline_s": 10,
            "smtp": {
                "host": "localhost",
                "port": servers.smtps_oauth2_port,
                "tls": "tls",
                "ca_file": str(servers.ca_file),
                "username": USER,
                "auth": mechanism,
                "oauth2": grant if smtp_grant is None else smtp_grant,
            },
            "imap": {
                "host": "localhost",
                "port": servers.imap_oauth2_port,
                "tls": "starttls",
                "ca_file": str(servers.ca_file),
                "username": USER,
                "auth": mechanism,
                "oauth2": grant,
                "poll_interval_s": 0.5,
                **imap,
            },
        }
    )


def shown(result: CheckResult, caplog: pytest.LogCaptureFixture) -> str:
    """Everything an operator could see of a run: the result and the log."""
    record = {
        "summary": result.summary,
        "details": result.details,
        "metrics": result.metrics,
        "stage": result.stage,
    }
    return json.dumps(record, default=str) + "\n" + caplog.text


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
@pytest.mark.parametrize("grant", ["client_credentials", "refresh_token"])
async def test_a_round_trip_logs_in_with_each_grant_and_mechanism(
    oauth2: OAuth2Server, mail_servers: MailServers, mechanism: str, grant: str
) -> None:
    config = (client_credentials if grant == "client_credentials" else refresh_grant)(oauth2)
    result = await run_check(oauth_route(mail_servers, mechanism, config))
    assert result.state is State.OK, result.summary
    assert "latency_s" in result.metrics
    # SMTP and IMAP share the grant, so one token served both logins.
    assert oauth2.state.grants == [grant]
    assert oauth2.state.introspections >= 2
    assert mail_servers.maildir_files("canary") == []  # the canary was found and deleted


async def test_a_kept_token_is_used_until_shortly_before_it_expires_then_refreshed(
    oauth2: OAuth2Server, mail_servers: MailServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = oauth_route(mail_servers, "xoauth2", refresh_grant(oauth2))
    assert (await run_check(check)).state is State.OK
    assert (await run_check(check)).state is State.OK
    assert oauth2.state.grants == ["refresh_token"]  # the second run used the kept token
    [first] = oauth2.issued()

    # An hour on: the issuer no longer accepts the first token, and the cache knows it
    # expired without asking the server.
    oauth2.expire(first)
    now = TOKENS.clock()
    monkeypatch.setattr(TOKENS, "clock", lambda: now + oauth2.state.lifetime_s)
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert oauth2.state.grants == ["refresh_token", "refresh_token"]
    assert len(oauth2.issued()) == 2


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
async def test_a_token_the_server_refuses_is_imap_auth_with_its_reason_then_renewed(
    oauth2: OAuth2Server, mail_servers: MailServers, mechanism: str
) -> None:
    check = oauth_route(mail_servers, mechanism, client_credentials(oauth2))
    assert (await run_check(check)).state is State.OK
    [token] = oauth2.issued()
    oauth2.expire(token)  # revoked early: the cache cannot know

    result = await run_check(check)
    assert result.state is State.CRITICAL
    assert result.stage == "imap_auth"
    assert result.summary.startswith(
        f"localhost:{mail_servers.imap_oauth2_port} refused the {mechanism.upper()} login of "
        f"{USER}: NO [AUTHENTICATIONFAILED]"
    ), result.summary
    # Dovecot's error challenge, decoded: XOAUTH2's is Google's, OAUTHBEARER's RFC 7628's.
    assert result.summary.endswith(
        "(status 401, scope mail)" if mechanism == "xoauth2" else "(status invalid_token)"
    )
    assert token not in result.summary

    # The refused token is not kept: the next run asks for a new one and logs in.
    again = await run_check(check)
    assert again.state is State.OK, again.summary
    assert len(oauth2.issued()) == 2


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
async def test_a_token_postfix_refuses_is_smtp_auth_with_its_reason(
    oauth2: OAuth2Server, mail_servers: MailServers, mechanism: str
) -> None:
    # IMAP logs in with a good token of its own grant; SMTP's command prints one nobody issued.
    bogus = {"token_command": [sys.executable, "-c", "print('token-nobody-issued')"]}
    check = oauth_route(mail_servers, mechanism, client_credentials(oauth2), smtp_grant=bogus)
    result = await run_check(check)
    assert result.state is State.CRITICAL
    assert result.stage == "smtp_auth"
    assert (
        f"localhost:{mail_servers.smtps_oauth2_port} refused the {mechanism.upper()} login "
        f"of {USER}: 535 5.7.8" in result.summary
    ), result.summary
    assert result.summary.endswith(
        "(status 401, scope mail)" if mechanism == "xoauth2" else "(status invalid_token)"
    )
    assert "token-nobody-issued" not in result.summary


async def test_a_failing_token_endpoint_is_oauth_token_with_its_error_and_no_secret(
    oauth2: OAuth2Server, mail_servers: MailServers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = {**client_credentials(oauth2), "client_secret": "not-the-secret-0b9d"}
    result = await run_check(oauth_route(mail_servers, "xoauth2", wrong))
    assert result.state is State.CRITICAL
    assert result.stage == "oauth_token"
    assert result.summary == (
        f"token endpoint 127.0.0.1:{oauth2.port} refused the client-credentials grant: "
        "invalid_client: client authentication failed"
    )
    assert "not-the-secret-0b9d" not in shown(result, caplog)

    result = await run_check(
        oauth_route(
            mail_servers,
            "oauthbearer",
            {**refresh_grant(oauth2), "refresh_token": "revoked-token-2e8a"},
        )
    )
    assert result.stage == "oauth_token"
    assert result.summary.endswith(
        "refused the refresh-token grant: invalid_grant: Token has been expired or revoked."
    )
    for secret in (*SECRETS, "revoked-token-2e8a"):
        assert secret not in shown(result, caplog)


async def test_an_endpoint_that_answers_an_error_page_or_nothing_is_oauth_token(
    oauth2: OAuth2Server, mail_servers: MailServers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    oauth2.fail_token_requests(503, "temporarily_unavailable", "try again later")
    result = await run_check(oauth_route(mail_servers, "xoauth2", refresh_grant(oauth2)))
    assert result.stage == "oauth_token"
    assert result.summary.endswith("temporarily_unavailable: try again later")

    closed = {**refresh_grant(oauth2), "token_url": "http://127.0.0.1:9/token"}
    result = await run_check(oauth_route(mail_servers, "xoauth2", closed))
    assert result.stage == "oauth_token"
    assert result.summary == "token endpoint: connection refused by 127.0.0.1:9"
    for secret in SECRETS:
        assert secret not in shown(result, caplog)


async def test_token_command_logs_in_and_a_failing_command_is_oauth_token(
    oauth2: OAuth2Server, mail_servers: MailServers, caplog: pytest.LogCaptureFixture
) -> None:
    # A token the authorization server issued, handed over by a command (as gcloud would).
    status, body = oauth2.token_request(
        {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN,
         "client_id": WEB_CLIENT_ID, "client_secret": WEB_CLIENT_SECRET},
        None,
    )  # fmt: skip
    assert status == 200
    command = {"token_command": [sys.executable, "-c", f"print({body['access_token']!r})"]}
    result = await run_check(oauth_route(mail_servers, "oauthbearer", command))
    assert result.state is State.OK, result.summary

    failing = {
        "token_command": [
            sys.executable,
            "-c",
            "import sys; print('no credentials for canary', file=sys.stderr); sys.exit(3)",
        ]
    }
    result = await run_check(oauth_route(mail_servers, "xoauth2", failing))
    assert result.state is State.CRITICAL
    assert result.stage == "oauth_token"
    assert result.summary == (
        f"token_command {sys.executable} exited with status 3: no credentials for canary"
    )

    missing = {"token_command": ["/nonexistent/print-token"]}
    result = await run_check(oauth_route(mail_servers, "xoauth2", missing))
    assert result.stage == "oauth_token"
    assert result.summary == (
        "token_command /nonexistent/print-token cannot run: No such file or directory"
    )


async def test_a_server_without_the_mechanism_is_named_at_imap_auth(
    oauth2: OAuth2Server, mail_servers: MailServers
) -> None:
    check = oauth_route(
        mail_servers, "xoauth2", client_credentials(oauth2), port=mail_servers.imap_port
    )
    result = await run_check(check)
    assert result.stage == "imap_auth"
    assert result.summary == (
        f"localhost:{mail_servers.imap_port} does not offer AUTH=XOAUTH2 "
        "(it offers AUTH=LOGIN AUTH=PLAIN)"
    )


async def test_a_silent_token_endpoint_or_a_hung_command_is_cut_off_at_the_command_timeout(
    oauth2: OAuth2Server, mail_servers: MailServers
) -> None:
    # A peer that accepts and never answers: nothing real behaves so on purpose.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        grant = {**refresh_grant(oauth2), "token_url": f"http://127.0.0.1:{port}/token"}
        check = oauth_route(mail_servers, "xoauth2", grant, command_timeout_s=1)
        result = await run_check(check)
    finally:
        server.close()
    assert result.stage == "oauth_token"
    assert result.summary == f"token endpoint 127.0.0.1:{port} did not answer within 1 s"

    hung = {"token_command": [sys.executable, "-c", "import time; time.sleep(60)"]}
    result = await run_check(oauth_route(mail_servers, "xoauth2", hung, command_timeout_s=1))
    assert result.stage == "oauth_token"
    assert result.summary == f"token_command {sys.executable} printed no token within 1 s"


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
async def test_without_sasl_ir_the_token_follows_the_servers_continuation(
    oauth2: OAuth2Server, mail_servers: MailServers, mechanism: str
) -> None:
    port = mail_servers.imap_oauth2_no_sasl_ir_port
    with imaplib.IMAP4(mail_servers.host, port, timeout=10) as imap:
        assert "SASL-IR" not in imap.capabilities  # or this would test the other path
        assert f"AUTH={mechanism.upper()}" in imap.capabilities
    check = oauth_route(mail_servers, mechanism, client_credentials(oauth2), port=port)
    result = await run_check(check)
    assert result.state is State.OK, result.summary

    [token] = oauth2.issued()
    oauth2.expire(token)
    result = await run_check(check)
    assert result.stage == "imap_auth"
    assert result.summary.startswith(
        f"localhost:{port} refused the {mechanism.upper()} login of {USER}: NO "
    ), result.summary


def test_mailwatch_check_logs_in_with_secrets_from_the_environment_and_hides_them(
    oauth2: OAuth2Server, mail_servers: MailServers, tmp_path: Path
) -> None:
    config = tmp_path / "mailwatch.toml"
    config.write_text(
        f"""
[[checks.roundtrip]]
name = "m365-like"
mail_from = "mailwatch@example.test"
rcpt_to = "{USER}"
deadline_s = 10
[checks.roundtrip.smtp]
host = "localhost"
port = {mail_servers.smtps_oauth2_port}
tls = "tls"
ca_file = "{mail_servers.ca_file}"
username = "{USER}"
auth = "xoauth2"
[checks.roundtrip.smtp.oauth2]
token_url = "{oauth2.token_url}"
client_id = "{APP_CLIENT_ID}"
client_secret = "env:MW_TEST_CLIENT_SECRET"
scope = "{APP_SCOPE}"
[checks.roundtrip.imap]
host = "localhost"
port = {mail_servers.imap_oauth2_port}
tls = "starttls"
ca_file = "{mail_servers.ca_file}"
username = "{USER}"
auth = "oauthbearer"
[checks.roundtrip.imap.oauth2]
token_url = "{oauth2.token_url}"
client_id = "{APP_CLIENT_ID}"
client_secret = "env:MW_TEST_CLIENT_SECRET"
scope = "{APP_SCOPE}"
"""
    )

    def check(secret: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailwatch", "check", "-c", str(config), "--json"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env={**os.environ, "MW_TEST_CLIENT_SECRET": secret},
        )

    proc = check(APP_CLIENT_SECRET)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [result] = json.loads(proc.stdout)
    assert result["state"] == "ok"
    assert oauth2.state.grants == ["client_credentials"]  # one token for SMTP and IMAP

    proc = check("wrong-secret-5c1f")
    assert proc.returncode == 2
    [result] = json.loads(proc.stdout)
    assert result["stage"] == "oauth_token"
    assert result["summary"].endswith("invalid_client: client authentication failed")
    assert "wrong-secret-5c1f" not in proc.stdout + proc.stderr

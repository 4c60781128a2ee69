"""The ``auth`` and ``oauth2`` keys of a roundtrip's SMTP and IMAP tables: each grant loads, each
wrong combination is refused naming its key, and ``mailwatch validate`` exits 78."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mailwatch.config import load_config
from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.config.oauth2 import Grant
from mailwatch.domain.errors import ConfigError

CHECK = """
[[checks.roundtrip]]
name = "m365"
mail_from = "mailwatch@example.test"
rcpt_to = "canary@example.test"
[checks.roundtrip.smtp]
host = "smtp.office365.com"
username = "canary@example.test"
auth = "xoauth2"
[checks.roundtrip.smtp.oauth2]
token_url = "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "env:MW_TEST_CLIENT_SECRET"
scope = "https://outlook.office365.com/.default"
[checks.roundtrip.imap]
host = "outlook.office365.com"
username = "canary@example.test"
{imap}
"""

IMAP_OAUTH = """auth = "oauthbearer"
[checks.roundtrip.imap.oauth2]
{grant}"""


def write(tmp_path: Path, imap: str) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(CHECK.format(imap=imap)))
    return path


def load(tmp_path: Path, imap: str) -> RoundtripCheck:
    [check] = load_config(write(tmp_path, imap)).checks
    assert isinstance(check, RoundtripCheck)
    return check


def problems(tmp_path: Path, imap: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, imap))
    return caught.value.problems


@pytest.fixture(autouse=True)
def _client_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MW_TEST_CLIENT_SECRET", "s3cret-from-env")


def test_each_grant_loads_and_says_which_it_is(tmp_path: Path) -> None:
    refresh = IMAP_OAUTH.format(
        grant='token_url = "https://oauth2.googleapis.com/token"\nclient_id = "id"\n'
        'client_secret = "cs"\nrefresh_token = "env:MW_TEST_CLIENT_SECRET"'
    )
    check = load(tmp_path, refresh)
    assert check.smtp.oauth2 is not None and check.smtp.oauth2.grant is Grant.CLIENT_CREDENTIALS
    assert check.smtp.oauth2.client_secret is not None
    assert check.smtp.oauth2.client_secret.get_secret_value() == "s3cret-from-env"
    assert check.smtp.effective_port == 587  # a username: submission
    assert check.imap.auth == "oauthbearer" and check.imap.password is None
    assert check.imap.oauth2 is not None and check.imap.oauth2.grant is Grant.REFRESH_TOKEN
    assert "s3cret" not in repr(check)

    command = load(tmp_path, IMAP_OAUTH.format(grant='token_command = ["print-token", "imap"]'))
    assert command.imap.oauth2 is not None and command.imap.oauth2.grant is Grant.COMMAND


@pytest.mark.parametrize(
    ("imap", "problem"),
    [
        (
            'auth = "xoauth2"',
            'checks.roundtrip[0].imap: auth = "xoauth2" needs an oauth2 table '
            "([checks.roundtrip.imap.oauth2]) saying where the token comes from",
        ),
        (
            'password = "pw"\n' + IMAP_OAUTH.format(grant='token_command = ["t"]'),
            'checks.roundtrip[0].imap: password is not used with auth = "oauthbearer": remove it',
        ),
        (
            '[checks.roundtrip.imap.oauth2]\ntoken_command = ["t"]',
            'checks.roundtrip[0].imap: oauth2 is used only with auth = "xoauth2" or '
            '"oauthbearer" (auth is "password"): set auth, or remove oauth2',
        ),
        (
            "",
            'checks.roundtrip[0].imap: password is missing: auth = "password" logs in with it',
        ),
        (
            'auth = "oauth"',
            "checks.roundtrip[0].imap.auth: Input should be 'password', 'xoauth2' or 'oauthbearer'",
        ),
        (
            IMAP_OAUTH.format(grant='token_command = ["t"]\nclient_id = "id"'),
            "checks.roundtrip[0].imap.oauth2: token_command stands alone: remove client_id "
            "(or token_command, to let mailwatch fetch the token)",
        ),
        (
            IMAP_OAUTH.format(grant="token_command = []"),
            "checks.roundtrip[0].imap.oauth2: token_command must name a program: "
            "[PROGRAM, ARG, ...]",
        ),
        (
            IMAP_OAUTH.format(grant='client_id = "id"'),
            "checks.roundtrip[0].imap.oauth2: token_url is missing: give token_url, client_id "
            "and client_secret (with scope or refresh_token), or token_command",
        ),
        (
            IMAP_OAUTH.format(grant='token_url = "https://t.example/token"\nclient_id = "id"'),
            "checks.roundtrip[0].imap.oauth2: client_secret is missing: the token endpoint "
            "needs it",
        ),
        (
            IMAP_OAUTH.format(
                grant='token_url = "https://t.example/token"\nclient_id = "i"\nclient_secret = "s"'
            ),
            "checks.roundtrip[0].imap.oauth2: scope is missing: a client-credentials grant "
            "needs it (or give refresh_token for a refresh-token grant)",
        ),
        (
            IMAP_OAUTH.format(
                grant='token_url = "http://login.example/token"\nclient_id = "i"\n'
                'client_secret = "s"\nscope = "x"'
            ),
            "checks.roundtrip[0].imap.oauth2: token_url must use https (plain http is "
            "accepted for localhost only): the request carries the client secret",
        ),
        (
            IMAP_OAUTH.format(grant='token_command = ["t"]\ncolour = "blue"'),
            "checks.roundtrip[0].imap.oauth2.colour: unknown key",
        ),
    ],
)
def test_a_wrong_combination_names_its_key(tmp_path: Path, imap: str, problem: str) -> None:
    assert problems(tmp_path, imap) == [problem]


def test_smtp_oauth_needs_a_username(tmp_path: Path) -> None:
    text = CHECK.replace('username = "canary@example.test"\nauth', "auth", 1)
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(text.format(imap='password = "pw"')))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        'checks.roundtrip[0].smtp: username is missing: auth = "xoauth2" logs in as it with '
        "the token"
    ]


def test_validate_exits_78_naming_the_key_and_no_secret(tmp_path: Path) -> None:
    imap = IMAP_OAUTH.format(
        grant='token_url = "https://t.example/token"\nclient_id = "i"\n'
        'client_secret = "literal-secret-4411"'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", "validate", "-c", str(write(tmp_path, imap))],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MW_TEST_CLIENT_SECRET": "s3cret-from-env"},
    )
    assert proc.returncode == 78, proc.stderr
    assert "  checks.roundtrip[0].imap.oauth2: scope is missing" in proc.stderr
    assert "literal-secret-4411" not in proc.stderr + proc.stdout

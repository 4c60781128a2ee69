"""``mailwatch notify-test`` as a subprocess: a line per URL with the URL masked, exit 0 only
when every URL took the message, 2 for an unknown route, 78 for a bad template."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.mailservers import MailServers
from helpers.http_receiver import HttpReceiver

PASSWORD = "CliPassw0rd-secret"
TOKEN = "CLITOKEN0123456789"


def notify_test(
    config: Path, *args: str, env: dict[str, str] | None = None, verbose: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mailwatch"]
    if verbose:
        command.append("-v")
    return subprocess.run(
        [*command, "notify-test", "-c", str(config), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mailwatch.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_all_routes_succeed(tmp_path: Path) -> None:
    with HttpReceiver() as team, HttpReceiver() as helpdesk:
        config = write(
            tmp_path,
            f"""
            [routes.team]
            urls = ["env:MW_TEST_TEAM_URL", "{team.url("/plain")}"]
            [routes.helpdesk]
            urls = ["{helpdesk.url("/tickets")}"]
            format = "markdown"
            """,
        )
        secret_url = f"json://hook:{PASSWORD}@127.0.0.1:{team.port}/hooks/{TOKEN}"
        proc = notify_test(config, env={"MW_TEST_TEAM_URL": secret_url})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.splitlines() == [
            f"team: ok      json://hook:****@127.0.0.1:{team.port}/hooks/****",
            f"team: ok      json://127.0.0.1:{team.port}/plain",
            f"helpdesk: ok      json://127.0.0.1:{helpdesk.port}/tickets",
            "notify-test: 3 of 3 URL(s) delivered",
        ]
        assert sorted(r.path for r in team.requests) == [f"/hooks/{TOKEN}", "/plain"]
        [ticket] = helpdesk.requests
        payload = ticket.json()
        assert payload["title"] == "[MW-TEST] mailwatch test notice for route helpdesk"
        assert payload["message"].startswith("Test notice from mailwatch. No action is needed.")
        assert payload["type"] == "info"
    assert PASSWORD not in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


def test_one_route_with_failures_exits_1(tmp_path: Path) -> None:
    with HttpReceiver(statuses=[500]) as broken, HttpReceiver() as other:
        config = write(
            tmp_path,
            f"""
            [routes.team]
            urls = ["env:MW_TEST_TEAM_URL"]
            [routes.other]
            urls = ["{other.url("/x")}"]
            """,
        )
        secret_url = f"json://hook:{PASSWORD}@127.0.0.1:{broken.port}/hooks/{TOKEN}"
        proc = notify_test(config, "team", env={"MW_TEST_TEAM_URL": secret_url}, verbose=True)
        assert len(broken.requests) == 1
        assert other.requests == []  # only the route asked for
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        f"team: FAILED  json://hook:****@127.0.0.1:{broken.port}/hooks/****: "
        "Failed to send JSON POST notification: Internal server error., error=500.",
        "notify-test: 0 of 1 URL(s) delivered",
    ]
    # -v shows apprise's own debug lines, which carry the request URL: masked too.
    assert "JSON POST URL" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


def test_json_reports_each_url_masked(tmp_path: Path) -> None:
    with HttpReceiver(statuses=[500]) as broken, HttpReceiver() as fine:
        config = write(
            tmp_path,
            f"""
            [routes.team]
            urls = ["env:MW_TEST_TEAM_URL", "{fine.url("/ok")}"]
            """,
        )
        secret_url = f"json://hook:{PASSWORD}@127.0.0.1:{broken.port}/hooks/{TOKEN}"
        proc = notify_test(config, "--json", env={"MW_TEST_TEAM_URL": secret_url})
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert (report["delivered"], report["total"]) == (1, 2)
    assert [(u["route"], u["url"], u["ok"]) for u in report["urls"]] == [
        ("team", f"json://hook:****@127.0.0.1:{broken.port}/hooks/****", False),
        ("team", f"json://127.0.0.1:{fine.port}/ok", True),
    ]
    assert "error=500" in report["urls"][0]["error"]
    assert report["urls"][1]["error"] is None
    assert PASSWORD not in proc.stdout + proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr


def test_unknown_route_exits_2(tmp_path: Path) -> None:
    config = write(tmp_path, '[routes.team]\nurls = ["json://127.0.0.1:9/x"]\n')
    proc = notify_test(config, "pager")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "mailwatch: unknown route 'pager' (defined routes: team)\n"


def test_no_routes_exits_2(tmp_path: Path) -> None:
    proc = notify_test(write(tmp_path, ""))
    assert proc.returncode == 2
    assert "no routes configured" in proc.stderr


def test_template_override_and_bad_placeholder(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        config = write(
            tmp_path,
            f"""
            [alerts.templates.test]
            title = "$ticket via $target"
            body = "hello from $check"
            [routes.team]
            urls = ["{receiver.url("/t")}"]
            """,
        )
        assert notify_test(config).returncode == 0
        [request] = receiver.requests
    assert (request.json()["title"], request.json()["message"]) == (
        "MW-TEST via team",
        "hello from notify-test",
    )
    bad = write(tmp_path, '[alerts.templates.test]\nbody = "$tickt"\n')
    proc = notify_test(bad)
    assert proc.returncode == 78
    assert "alerts.templates.test.body: unknown placeholder $tickt;" in proc.stderr


@pytest.mark.parametrize("trusted", [True, False])
def test_email_over_verified_starttls(
    mail_servers: MailServers, tmp_path: Path, trusted: bool
) -> None:
    """apprise verifies the certificate against the default store, which SSL_CERT_FILE points
    at the harness CA; without it, the same URL fails with a line that says so."""
    user = "alerts-cli"
    mail_servers.add_users([user])
    for path in mail_servers.maildir_files(user):
        path.unlink()
    config = write(
        tmp_path,
        f"""
        [routes.mail]
        urls = ["mailtos://{mail_servers.host}:{mail_servers.smtp_port}?mode=starttls&to={mail_servers.address(user)}&from=mailwatch@example.test"]
        """,
    )
    env = (
        {"SSL_CERT_FILE": str(mail_servers.ca_file)}
        if trusted
        else {"SSL_CERT_FILE": "/nonexistent"}
    )
    try:
        proc = notify_test(config, "--timeout-s", "30", env=env)
        if trusted:
            assert proc.returncode == 0, proc.stdout + proc.stderr
            [path] = mail_servers.wait_for_maildir(user, 1, timeout_s=20)
            assert b"mailwatch test notice for route mail" in path.read_bytes()
        else:
            assert proc.returncode == 1
            assert "mail: FAILED  mailtos://127.0.0.1:10025/" in proc.stdout
            assert mail_servers.maildir_files(user) == []
    finally:
        for path in mail_servers.maildir_files(user):
            path.unlink()

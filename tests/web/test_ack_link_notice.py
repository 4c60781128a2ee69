"""The whole path of an ack link, in a real ``mailwatch run``: a check fails, the opened
notice reaches a webhook with a signed link to the daemon's own web server; opening the link
acknowledges nothing, its button does (on behalf of the route), the response clock stops;
and the daemon's log (debug level) holds no token, session id, password or key."""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, free_port, wait_for
from helpers.http_receiver import HttpReceiver
from helpers.web import HASH, LINK_KEY, PASSWORD


def config_text(state_dir: Path, hook: str, port: int) -> str:
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0

[incidents]
open_after = 1
default_plan = "gold"

[calendars.always]
timezone = "UTC"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hours = "00:00-24:00"

[plans.gold]
calendar = "always"
sev1 = {{ response = "4h", resolution = "1d" }}
sev2 = {{ response = "4h", resolution = "1d" }}
sev3 = {{ response = "4h", resolution = "1d" }}
sev4 = {{ response = "4h", resolution = "1d" }}

[[checks.service]]
name = "gone"
protocol = "process"
process_name = "mailwatch-never-runs"
interval_s = 1

[routes.oncall]
urls = ["{hook}"]

[outbox]
group_wait_s = 0

[web]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
link_key = "env:MW_LINK_KEY"
cookie_secure = false

[web.users.alice]
password_hash = "env:MW_ALICE_HASH"
"""


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as hook:
        yield hook


@pytest.fixture
def daemon(tmp_path: Path, receiver: HttpReceiver) -> Iterator[tuple[DaemonProcess, int]]:
    port = free_port()
    text = config_text(tmp_path / "state", receiver.url("/hook"), port)
    process = DaemonProcess(tmp_path, text, {"MW_LINK_KEY": LINK_KEY, "MW_ALICE_HASH": HASH})
    process.start("-v")
    try:
        yield process, port
    finally:
        process.stop()


def ticket_of(process: DaemonProcess) -> dict[str, object]:
    (ticket,) = process.tickets()
    return ticket


def test_the_link_in_the_opened_notice_acknowledges_only_by_its_button(
    daemon: tuple[DaemonProcess, int], receiver: HttpReceiver
) -> None:
    process, port = daemon
    pattern = re.compile(rf"http://127\.0\.0\.1:{port}/ack/[A-Za-z0-9._-]+")

    def link_in_notice() -> str | None:
        for request in list(receiver.requests):
            found = pattern.search(json.dumps(request.json()))
            if found:
                return found.group(0)
        return None

    link = wait_for("an opened notice with an ack link", link_in_notice, timeout_s=60)
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(link, timeout=10) as page:
        text = page.read().decode()
    assert "Acknowledge MW-000001" in text and "oncall" in text
    assert ticket_of(process)["acknowledged_at"] is None

    nonce = re.search(r'name="nonce" value="([^"]+)"', text)
    assert nonce is not None
    form = urllib.parse.urlencode({"nonce": nonce.group(1)}).encode()
    with browser.open(link, data=form, timeout=10) as done:
        assert "MW-000001 acknowledged" in done.read().decode()
    ticket = ticket_of(process)
    assert ticket["status"] == "acknowledged"
    assert ticket["acknowledged_by"] == "oncall (ack link)"
    shown = process.mailwatch("show", "MW-000001")
    assert re.search(r"response due:\s+.*\(met\)", shown.stdout), shown.stdout

    # A person logs in too, so that a session id exists to look for in the log.
    with browser.open(f"http://127.0.0.1:{port}/login", timeout=10) as login_page:
        login_nonce = re.search(r'name="nonce" value="([^"]+)"', login_page.read().decode())
    assert login_nonce is not None
    credentials = {"nonce": login_nonce.group(1), "user": "alice", "password": PASSWORD}
    with browser.open(
        f"http://127.0.0.1:{port}/login", data=urllib.parse.urlencode(credentials).encode()
    ) as overview:
        assert "MW-000001" in overview.read().decode()
    session = next(c.value for c in jar if c.name == "mailwatch_session")
    wait_for("the login in the log", lambda: "alice logged in" in process.stderr)

    log = process.stderr
    assert "GET /ack/… 200" in log and "POST /ack/… 200" in log
    token = link.rpartition("/")[2]
    for secret in (token, token.rpartition(".")[2], session, PASSWORD, LINK_KEY, HASH):
        assert secret not in log

"""A ticket's root-cause pack from real runs: a round trip through the harness's real Postfix
and Dovecot whose recipient Postfix refuses, beside a service check of the same Postfix (its
``depends_on`` parent) and the Postfix queue check. Each probe runs for real, once or twice,
and its results go through the real processor, as the daemon's do; then the pack is read
through the store, ``mailwatch show MW-… --rca`` (a subprocess) and the ticket's web page."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.mailservers import MailServers
from helpers.web import HASH, PagesHost, browser, log_in, serving
from mailwatch.config.loader import load_config
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.results import State
from mailwatch.incidents.actions import acknowledge_ticket
from mailwatch.incidents.processor import process_result
from mailwatch.runner import run_check
from mailwatch.status.rca import RootCause, read_root_cause
from mailwatch.store.store import Store

PASSWORD_ENV = "MW_RCA_TEST_PASSWORD"


@dataclass(frozen=True)
class Opened:
    config_file: Path
    config: MailwatchConfig
    env: dict[str, str]
    opened_at: datetime
    parked: str
    """The queue id of the message held in Postfix's queue while the checks ran."""


def write_config(tmp: Path, servers: MailServers) -> Path:
    path = tmp / "mailwatch.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp / "state"}"

[incidents]
open_after = 2
default_plan = "gold"

[calendars.all]
timezone = "UTC"
hours = "00:00-23:59"

[plans.gold]
calendar = "all"
sev1 = {{ response = "1h", resolution = "4h" }}
sev2 = {{ response = "1h", resolution = "4h" }}
sev3 = {{ response = "1h", resolution = "4h" }}

[web]
listen = "127.0.0.1:1"
cookie_secure = false

[web.users.alice]
password_hash = '{HASH}'

[[checks.service]]
name = "smtp"
protocol = "smtp"
host = "localhost"
port = {servers.smtp_port}

[[checks.queue]]
name = "queue"
postfix_config_dir = "{servers.postfix_dir}"

[[checks.roundtrip]]
name = "relay"
mail_from = "mailwatch@example.test"
rcpt_to = "nobody@example.test"
depends_on = ["smtp"]
[checks.roundtrip.smtp]
host = "localhost"
port = {servers.smtp_port}
ca_file = "{servers.ca_file}"
[checks.roundtrip.imap]
host = "localhost"
port = {servers.imaps_port}
ca_file = "{servers.ca_file}"
username = "{servers.canary}"
password = "env:{PASSWORD_ENV}"
""",
        encoding="utf-8",
    )
    return path


async def _run_and_process(config: MailwatchConfig) -> datetime:
    """Run the service and queue checks once and the round trip twice, for real, through the
    processor; acknowledge the ticket the round trip opened. The opening instant."""
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
    try:
        for name in ("smtp", "queue"):
            check = config.check_named(name)
            assert check is not None
            result = await run_check(check)
            await process_result(store, config, result, result.finished_at)
        relay = config.check_named("relay")
        assert relay is not None
        opened_at = datetime.now(UTC)
        for _ in range(2):
            result = await run_check(relay)
            opened_at = result.finished_at
            await process_result(store, config, result, opened_at)
        ack_at = opened_at + timedelta(minutes=5)
        await acknowledge_ticket(store, config, 1, "alice", "relay map", ack_at)
    finally:
        await store.close()
    return opened_at


@pytest.fixture(scope="module")
def opened(mail_servers: MailServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opened]:
    tmp = tmp_path_factory.mktemp("rca")
    env = {**os.environ, PASSWORD_ENV: mail_servers.password}
    mail_servers.clear_queue()
    mail_servers.park_a_message()  # the queue check has something to show
    try:
        [parked] = mail_servers.queue_ids("hold")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(PASSWORD_ENV, mail_servers.password)
            config_file = write_config(tmp, mail_servers)
            config = load_config(config_file)
            opened_at = asyncio.run(_run_and_process(config))
    finally:
        mail_servers.clear_queue()
    yield Opened(config_file, config, env, opened_at, parked)


async def _read(config: MailwatchConfig) -> RootCause:
    store = await Store.open(config.store.resolved_url(config.daemon.state_dir), create=False)
    try:
        rca = await read_root_cause(store, config, 1, datetime.now(UTC))
    finally:
        await store.close()
    assert rca is not None
    return rca


def test_the_pack_names_the_stage_the_reply_and_the_checks_on_the_same_host(
    opened: Opened, mail_servers: MailServers
) -> None:
    rca = asyncio.run(_read(opened.config))
    assert rca.ticket.check == "relay"
    assert (rca.first.stage, rca.first.recorded) == ("smtp_rejected", True)
    assert rca.first.at is not None and rca.first.at < opened.opened_at  # the first of two runs
    assert rca.opening is not None
    assert rca.opening["server_reply"].startswith("550 ")
    assert "nobody@example.test" in rca.opening["server_reply"]
    related = {view.check: view for view in rca.related}
    assert related["smtp"].relation == "depends_on"
    assert related["queue"].relation == "same host localhost"
    smtp = related["smtp"].at_opening
    assert smtp is not None and smtp["state"] == "ok"
    assert [r.state for r in related["smtp"].window] == [State.OK]
    queue = related["queue"].at_opening
    assert queue is not None and queue["figures"]["hold_messages"] == 1
    assert queue["details"]["oldest_queue_ids"] == [opened.parked]
    assert (rca.sla.response, rca.sla.response_text) == (
        "met",
        "met: responded 5 min after opening",
    )
    assert rca.sla.resolution == "running"


def test_no_secret_reaches_the_evidence(opened: Opened, mail_servers: MailServers) -> None:
    database = opened.config.daemon.state_dir / "mailwatch.db"
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT kind, check_name, data FROM ticket_evidence").fetchall()
    assert {(kind, check) for kind, check, _ in rows} == {
        ("opening", "relay"),
        ("first_failure", "relay"),
        ("related", "smtp"),
        ("queue", "queue"),
    }
    assert all(mail_servers.password not in data for _, _, data in rows)
    assert all(len(data) <= 6000 for _, _, data in rows)


def mailwatch(opened: Opened, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mailwatch", *args, "-c", str(opened.config_file)],
        capture_output=True,
        text=True,
        check=False,
        env=opened.env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_show_rca_prints_the_pack(opened: Opened) -> None:
    text = mailwatch(opened, "show", "MW-000001", "--rca")
    lines = text.splitlines()
    [first] = [line for line in lines if line.startswith("  first failure:")]
    assert "[smtp_rejected]" in first and "refused nobody@example.test: 550" in first
    [reply] = [line for line in lines if line.startswith("  server reply:")]
    assert reply.split(":", 1)[1].strip().startswith("550 ")
    assert "  smtp (depends_on, service):" in lines
    assert "  queue (same host localhost, queue):" in lines
    assert any(
        line.startswith("    queue snapshot:") and "hold_messages=1" in line for line in lines
    )
    assert f"    oldest queued:    {opened.parked}" in lines
    assert "  response:        met: responded 5 min after opening" in lines
    assert any("ticket_opened" in line for line in lines)
    document = json.loads(mailwatch(opened, "show", "MW-000001", "--rca", "--json"))
    assert document["first_failure"]["stage"] == "smtp_rejected"
    assert document["opening_evidence"]["server_reply"].startswith("550 ")
    assert [r["check"] for r in document["related"]] == ["smtp", "queue"]
    assert document["sla"]["response"] == "met"


async def test_the_ticket_page_shows_the_root_cause_section(opened: Opened) -> None:
    store = await Store.open(
        opened.config.store.resolved_url(opened.config.daemon.state_dir), create=False
    )
    try:
        host = PagesHost(opened.config, store)
        async with serving(host) as base, browser() as client:
            await log_in(client, base)
            async with client.get(f"{base}/tickets/MW-000001") as page:
                text = await page.text()
            # The page's live script fetching it again gets the live regions, not the pack.
            headers = {"Sec-Fetch-Mode": "cors"}
            async with client.get(f"{base}/tickets/MW-000001", headers=headers) as refetch:
                again = await refetch.text()
    finally:
        await store.close()
    assert refetch.status == 200
    assert "data-live-region" in again and "Root cause" not in again
    assert page.status == 200
    section = text[text.index('<section class="rca"') :]
    assert "<h2>Root cause</h2>" in section
    assert "[smtp_rejected]" in section
    assert "<dt>server reply</dt><dd><code>550 " in section
    assert "<strong>queue</strong> (same host localhost, queue)" in section
    assert "queue snapshot: " in section
    assert f"oldest queued: {opened.parked}" in section
    assert "met: responded 5 min after opening" in section

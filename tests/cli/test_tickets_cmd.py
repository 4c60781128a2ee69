"""The ticket commands as an operator runs them: subprocesses against a database the test
fills through the processor, as the daemon would; on SQLite and on PostgreSQL (the tests of
input handling alone on SQLite)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from helpers.builders import result
from helpers.cli import in_process
from helpers.store_engines import sqlite_only
from mailwatch.config.loader import load_config
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.store.store import Store


# Tickets open an hour ago, so that people's actions (at the real "now") come after them.
def an_hour_ago() -> datetime:
    """Taken when a test runs, not at import: a long suite must not age the tickets."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def config_file(tmp_path: Path, store_url: str) -> Path:
    """A config whose ``[store] url`` is a SQLite file or a PostgreSQL database
    (``helpers.store_engines``): every test here runs on both."""
    path = tmp_path / "mailwatch.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[store]
url = "{store_url}"

[incidents]
open_after = 1
resolve_after = 1
timezone = "Europe/Athens"
""",
        encoding="utf-8",
    )
    return path


def populate(config_file: Path, *steps: tuple[str, State], start: datetime | None = None) -> None:
    """Feed results through the processor, a minute apart, from ``start`` (default: an hour
    ago) on."""
    start = start or an_hour_ago()
    config = load_config(config_file)

    async def run() -> None:
        store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
        try:
            for i, (check, state) in enumerate(steps):
                now = start + timedelta(minutes=i)
                await process_result(store, config, result(state, now, check), now)
        finally:
            await store.close()

    asyncio.run(run())


def mailwatch(
    config_file: Path, *args: str, user: str = "carol"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "USER": user}
    env.pop("SUDO_USER", None)
    return in_process([*args, "-c", str(config_file)], env)


def test_tickets_lists_open_tickets(config_file: Path) -> None:
    populate(config_file, ("imap", State.CRITICAL), ("mx", State.WARNING), ("mx", State.OK))
    proc = mailwatch(config_file, "tickets")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["TICKET", "SEV", "STATE", "CHECK"]
    assert len(lines) == 2
    assert lines[1].split()[:4] == ["MW-000001", "1", "triggered", "imap"]
    assert "(1 h ago)" in lines[1]
    resolved = mailwatch(config_file, "tickets", "--all").stdout.splitlines()[1]
    assert resolved.split()[:4] == ["MW-000002", "3", "resolved", "mx"], resolved
    assert re.search(r"resolved 5\d min ago", resolved), resolved  # no plan: no target to meet
    everything = json.loads(mailwatch(config_file, "tickets", "--all", "--json").stdout)
    assert [(t["ticket"], t["status"]) for t in everything] == [
        ("MW-000002", "resolved"),
        ("MW-000001", "triggered"),
    ]


def test_ack_shows_on_the_timeline_with_actor_and_note(config_file: Path) -> None:
    populate(config_file, ("imap", State.CRITICAL))
    proc = mailwatch(config_file, "ack", "MW-000001", "--note", "restarting dovecot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "MW-000001 acknowledged by carol"
    shown = json.loads(mailwatch(config_file, "show", "MW-1", "--json").stdout)
    assert shown["status"] == "acknowledged"
    assert shown["acknowledged_by"] == "carol"
    ack = shown["timeline"][-1]
    assert (ack["type"], ack["actor"], ack["note"]) == (
        "acknowledged",
        "carol",
        "restarting dovecot",
    )
    text = mailwatch(config_file, "show", "MW-000001")
    assert text.returncode == 0, text.stderr
    assert "acknowledged:" in text.stdout and "by carol" in text.stdout
    assert 'acknowledged             carol        "restarting dovecot"' in text.stdout
    assert "EET" in text.stdout  # [incidents] timezone


@sqlite_only
def test_by_overrides_the_login_name(config_file: Path) -> None:
    populate(config_file, ("imap", State.CRITICAL))
    proc = mailwatch(config_file, "mitigate", "MW-000001", "--by", "dave", "--note", "backup MX")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json").stdout)
    assert (shown["status"], shown["mitigated_by"]) == ("mitigated", "dave")


@sqlite_only
def test_acknowledging_a_resolved_ticket_is_refused(config_file: Path) -> None:
    populate(config_file, ("imap", State.CRITICAL), ("imap", State.OK))
    proc = mailwatch(config_file, "ack", "MW-000001")
    assert proc.returncode == 1
    assert "MW-000001: it was resolved at" in proc.stderr
    assert "cannot be acknowledged" in proc.stderr


def test_resolve_needs_a_note_and_then_closes_the_ticket(config_file: Path) -> None:
    populate(config_file, ("imap", State.CRITICAL))
    proc = mailwatch(config_file, "resolve", "MW-000001")
    assert proc.returncode == 2
    assert "--note" in proc.stderr
    proc = mailwatch(config_file, "resolve", "MW-000001", "--note", "fixed")
    assert proc.returncode == 0, proc.stderr
    again = mailwatch(config_file, "resolve", "MW-000001", "--note", "fixed", user="erin")
    assert again.returncode == 0, again.stderr  # a repeat is a no-op, not a failure
    assert re.fullmatch(
        r"MW-000001 already resolved by carol at \d{4}-\d\d-\d\d \d\d:\d\d EET\n", again.stdout
    )
    shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json").stdout)
    assert shown["resolved_by"] == "carol"
    assert [e["type"] for e in shown["timeline"]].count("ticket_resolved") == 1


def test_acknowledging_twice_is_a_no_op_that_says_who_did(config_file: Path) -> None:
    populate(config_file, ("imap", State.CRITICAL))
    first = mailwatch(config_file, "ack", "MW-000001", "--json", user="alice")
    assert first.returncode == 0, first.stderr
    acked = json.loads(first.stdout)
    assert (acked["ticket"], acked["status"], acked["acknowledged_by"], acked["changed"]) == (
        "MW-000001",
        "acknowledged",
        "alice",
        True,
    )
    again = mailwatch(config_file, "ack", "MW-000001", "--note", "me too", user="bob")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    assert re.fullmatch(
        r"MW-000001 already acknowledged by alice at \d{4}-\d\d-\d\d \d\d:\d\d EET\n", again.stdout
    )
    repeat = json.loads(mailwatch(config_file, "ack", "MW-1", "--json", user="bob").stdout)
    assert (repeat["acknowledged_by"], repeat["changed"]) == ("alice", False)
    assert repeat["acknowledged_at"] == acked["acknowledged_at"]
    shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json").stdout)
    assert [e["type"] for e in shown["timeline"]] == ["ticket_opened", "acknowledged"]
    # Mitigating acknowledges too; acknowledging afterwards is the same no-op.
    assert mailwatch(config_file, "mitigate", "MW-1", "--note", "backup MX").returncode == 0
    after = mailwatch(config_file, "ack", "MW-000001", user="bob")
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("MW-000001 already acknowledged by alice at ")
    remitigate = mailwatch(config_file, "mitigate", "MW-1", "--note", "again", user="bob")
    assert remitigate.returncode == 0, remitigate.stderr
    assert remitigate.stdout.startswith("MW-000001 already mitigated by carol at ")


@sqlite_only
@pytest.mark.parametrize("command", ["show", "ack"])
def test_unknown_ticket_number_is_a_clear_error(config_file: Path, command: str) -> None:
    populate(config_file, ("imap", State.OK))
    proc = mailwatch(config_file, command, "MW-000777")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "mailwatch: there is no ticket MW-000777"
    proc = mailwatch(config_file, command, "ticket-seven")
    assert proc.returncode == 2
    assert "is not a ticket number" in proc.stderr


def test_silence_all_then_unsilence(config_file: Path) -> None:
    populate(config_file, ("imap", State.OK))
    proc = mailwatch(config_file, "silence", "all", "--for", "2h", "--reason", "relay upgrade")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("silenced all until ")
    # Inside the silence, which started at the real "now".
    populate(config_file, ("imap", State.CRITICAL), start=datetime.now(UTC))
    shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json").stdout)
    assert [(e["type"], e["notify"]) for e in shown["timeline"]] == [("ticket_opened", False)]
    proc = mailwatch(config_file, "unsilence", "all")
    assert proc.returncode == 0, proc.stderr
    assert "ended silence 1 of all (relay upgrade)" in proc.stdout
    shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json").stdout)
    assert [(e["type"], e["notify"]) for e in shown["timeline"]] == [
        ("ticket_opened", False),
        ("unsilenced", False),
        ("notifications_resumed", True),
    ]
    assert mailwatch(config_file, "unsilence", "all").stdout.strip() == "no active silence for all"


@sqlite_only
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["silence", "all", "--for", "2 hours", "--reason", "x"], "invalid duration '2 hours'"),
        (["silence", "nosuch", "--for", "2h", "--reason", "x"], "unknown check 'nosuch'"),
    ],
)
def test_silence_bad_input(config_file: Path, args: list[str], message: str) -> None:
    populate(config_file, ("imap", State.OK))  # a database to silence in
    proc = mailwatch(config_file, *args)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_database_from_a_newer_mailwatch_is_refused(config_file: Path, store_url: str) -> None:
    populate(config_file, ("imap", State.OK))

    async def newer() -> None:
        engine = create_async_engine(store_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE schema_version SET version = 99"))
        finally:
            await engine.dispose()

    asyncio.run(newer())
    proc = mailwatch(config_file, "tickets")
    assert proc.returncode == 74
    assert "written by a newer mailwatch: its schema version is 99" in proc.stderr


def test_tickets_before_the_daemon_ever_ran(config_file: Path, store_engine: str) -> None:
    proc = mailwatch(config_file, "tickets")
    assert proc.returncode == 66  # EX_NOINPUT
    # No SQLite file yet; on PostgreSQL, a database without mailwatch's schema.
    expected = "no database at" if store_engine == "sqlite" else "no mailwatch schema in"
    assert expected in proc.stderr


def test_resolved_tickets_say_how_their_response_deadline_ended(
    config_file: Path, tmp_path: Path
) -> None:
    with config_file.open("a", encoding="utf-8") as extra:
        extra.write(
            """default_plan = "always"

[calendars.always]
timezone = "Europe/Athens"
hours = "00:00-24:00"

[plans.always]
calendar = "always"
sev1 = { response = "30m", resolution = "8h" }
sev2 = { response = "4h", resolution = "1d" }
sev3 = { response = "4h", resolution = "1d" }
"""
        )
    # imap (sev 1): open an hour ago, resolved 50 min ago unacknowledged, past its 30 min.
    # smtp (a warning, sev 3): open an hour ago, acknowledged now, within its 4 h; resolved.
    populate(config_file, ("imap", State.CRITICAL), ("smtp", State.WARNING))
    assert mailwatch(config_file, "ack", "MW-000002").returncode == 0
    populate(config_file, ("smtp", State.OK), start=an_hour_ago() + timedelta(minutes=5))
    populate(config_file, ("imap", State.OK), start=an_hour_ago() + timedelta(minutes=10))
    proc = mailwatch(config_file, "tickets", "--all")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert "not acknowledged" in rows["MW-000001"], proc.stdout
    assert " met " in rows["MW-000002"] + " ", proc.stdout
    assert " in " not in rows["MW-000001"].split("imap", 1)[1], proc.stdout


def configure_check(config_file: Path, name: str) -> None:
    """A check by this name in the config, so that it may be silenced (never run here)."""
    with config_file.open("a", encoding="utf-8") as extra:
        extra.write(f'\n[[checks.resources]]\nname = "{name}"\n')


def test_silence_list_and_expire_by_id(config_file: Path) -> None:
    populate(config_file, ("imap", State.OK), ("smtp", State.OK))
    configure_check(config_file, "imap")
    assert mailwatch(config_file, "silence", "list").stdout == "no active silences\n"
    first = mailwatch(config_file, "silence", "imap", "--for", "2h", "--reason", "dovecot upgrade")
    assert first.returncode == 0, first.stderr
    second = mailwatch(
        config_file, "silence", "all", "--for", "30m", "--reason", "relay move", "--json"
    )
    assert second.returncode == 0, second.stderr
    created = json.loads(second.stdout)
    assert (created["id"], created["check"], created["by"], created["reason"]) == (
        2,
        "all",
        "carol",
        "relay move",
    )
    listed = mailwatch(config_file, "silence", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "CHECK", "UNTIL", "BY", "REASON"]
    assert [row.split()[:2] for row in rows] == [["1", "imap"], ["2", "all"]]
    assert rows[0].endswith("carol  dovecot upgrade"), rows[0]
    assert "EET (in 1 h 59 min)" in rows[0] or "EET (in 2 h)" in rows[0], rows[0]

    expired = mailwatch(config_file, "silence", "expire", "1", "--by", "dave")
    assert expired.returncode == 0, expired.stderr
    assert expired.stdout.strip() == "ended silence 1 of imap (dovecot upgrade)"
    remaining = json.loads(mailwatch(config_file, "silence", "list", "--json").stdout)
    assert [(s["id"], s["check"], s["until"]) for s in remaining] == [(2, "all", created["until"])]
    # Expiring it again changes nothing and says so: a no-op, like a second ack.
    again = mailwatch(config_file, "silence", "expire", "1", "--json")
    assert again.returncode == 0, again.stderr
    record = json.loads(again.stdout)
    assert (record["changed"], record["ended_by"]) == (False, "dave")
    text = mailwatch(config_file, "silence", "expire", "1").stdout
    assert re.fullmatch(r"silence 1 already ended at \S+ \d\d:\d\d EET by dave\n", text), text


@sqlite_only
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["silence", "expire", "7"], "there is no silence 7"),
        (["silence", "expire", "one"], "'one' is not a silence ID"),
        (["silence", "expire"], "silence expire needs the silence's ID"),
        (["silence", "list", "3"], "silence list takes no ID"),
        (["silence", "imap", "--for", "2h"], "silence imap needs --for DURATION and --reason"),
    ],
)
def test_silence_list_and_expire_bad_input(
    config_file: Path, args: list[str], message: str
) -> None:
    populate(config_file, ("imap", State.OK))
    proc = mailwatch(config_file, *args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr


def test_expiring_a_silence_resumes_notices_of_the_open_ticket(config_file: Path) -> None:
    populate(config_file, ("imap", State.OK))
    configure_check(config_file, "imap")
    assert mailwatch(config_file, "silence", "imap", "--for", "1h", "--reason", "x").returncode == 0
    populate(config_file, ("imap", State.CRITICAL), start=datetime.now(UTC))
    proc = mailwatch(config_file, "silence", "expire", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tickets"] == ["MW-000001"]
    shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json").stdout)
    assert [(e["type"], e["notify"]) for e in shown["timeline"]] == [
        ("ticket_opened", False),
        ("unsilenced", False),
        ("notifications_resumed", True),
    ]


@sqlite_only
def test_a_check_named_list_can_still_be_silenced(config_file: Path) -> None:
    populate(config_file, ("list", State.OK))
    configure_check(config_file, "list")
    proc = mailwatch(config_file, "silence", "list", "--for", "1h", "--reason", "named so")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("silenced list until ")
    listed = json.loads(mailwatch(config_file, "silence", "list", "--json").stdout)
    assert [s["check"] for s in listed] == ["list"]


@sqlite_only
def test_a_route_test_can_be_silenced_by_its_check_name(config_file: Path) -> None:
    """``route-test:NAME`` is a check name for ``silence`` when the route has ``test_every``."""
    config_file.write_text(
        config_file.read_text()
        + '\n[routes.chat]\nurls = ["json://127.0.0.1:9/chat"]\ntest_every = "7d"\n',
        encoding="utf-8",
    )
    populate(config_file, ("imap", State.OK))
    proc = mailwatch(config_file, "silence", "route-test:chat", "--for", "2h", "--reason", "x")
    assert proc.returncode == 0, proc.stderr
    assert "silenced route-test:chat until" in proc.stdout
    refused = mailwatch(config_file, "silence", "route-test:other", "--for", "2h", "--reason", "x")
    assert refused.returncode == 2
    assert "unknown check 'route-test:other'" in refused.stderr
    assert "route-test:chat" in refused.stderr

"""``mailwatch show`` as an operator reads it: a subprocess against a database filled through the
processor and the outbox sender, as the daemon would, with alerts going to a loopback HTTP
receiver (apprise ``json://``)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers.builders import result
from helpers.cli import in_process
from helpers.http_receiver import HttpReceiver
from mailwatch.alerts.sender import OutboxSender
from mailwatch.config.loader import load_config
from mailwatch.domain.results import State
from mailwatch.incidents.processor import process_result
from mailwatch.store.store import Store


def write_config(tmp_path: Path, *, response: str = "2h", route_url: str | None = None) -> Path:
    """Tickets open on the first failure and resolve on the first ok result, under a plan whose
    severity 1 response target is ``response``; alerts go to ``route_url`` when given."""
    route = f'\n[routes.team]\nurls = ["{route_url}"]\n' if route_url else ""
    path = tmp_path / "mailwatch.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"

[incidents]
open_after = 1
resolve_after = 1
timezone = "Europe/Athens"
default_plan = "premium"

[calendars.athens]
timezone = "Europe/Athens"
hours = "09:00-17:00"

[plans.premium]
calendar = "athens"
sev1 = {{ response = "{response}", resolution = "8h" }}
{route}""",
        encoding="utf-8",
    )
    return path


def feed(
    config_file: Path, *steps: tuple[State, datetime], send_at: datetime | None = None
) -> None:
    """Process ``imap`` results at their instants; then, with ``send_at``, let the outbox
    sender deliver what is due then."""
    config = load_config(config_file)

    async def run() -> None:
        store = await Store.open(config.store.resolved_url(config.daemon.state_dir))
        try:
            for state, at in steps:
                await process_result(store, config, result(state, at, "imap"), at)
            if send_at is not None:
                await OutboxSender(store, lambda: config, jitter=lambda: 1.0).run_once(send_at)
        finally:
            await store.close()

    asyncio.run(run())


def mailwatch(config_file: Path, *args: str) -> str:
    env = {**os.environ, "USER": "carol"}
    env.pop("SUDO_USER", None)
    proc = in_process([*args, "-c", str(config_file)], env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def show(config_file: Path) -> list[str]:
    return mailwatch(config_file, "show", "MW-000001").splitlines()


def line(lines: list[str], marker: str) -> str:
    [found] = [text for text in lines if marker in text]
    return found


def ago(minutes: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)


def test_timeline_says_which_events_were_notified(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        config_file = write_config(tmp_path, route_url=receiver.url("/team"))
        feed(config_file, (State.CRITICAL, ago(60)))
        opened = line(show(config_file), "ticket_opened")
        assert opened.endswith("[not_delivered] imap is critical (notification pending)")

        feed(config_file, send_at=ago(59))
        assert len(receiver.requests) == 1
        mailwatch(config_file, "ack", "MW-000001", "--note", "on it")
        lines = show(config_file)
        shown = json.loads(mailwatch(config_file, "show", "MW-000001", "--json"))
    assert line(lines, "ticket_opened").endswith("[not_delivered] imap is critical")
    assert line(lines, "notification_sent").endswith(
        "opened notice delivered through route team (1 of 1 URL(s) took it)"
    )
    # An acknowledgement is announced by no notice of its own; it schedules the reminder.
    assert line(lines, "acknowledged ").endswith('carol        "on it" (reminder scheduled)')
    # --json tells the same, per event: the outbox rows it caused and what became of them.
    by_type = {event["type"]: event for event in shown["timeline"]}
    [opened_notice] = by_type["ticket_opened"]["notices"]
    assert (opened_notice["route"], opened_notice["kind"], opened_notice["status"]) == (
        "team",
        "opened",
        "delivered",
    )
    assert opened_notice["delivered_at"] is not None
    assert [n["status"] for n in by_type["acknowledged"]["notices"]] == ["scheduled"]


def test_once_the_outbox_rows_are_gone_delivered_events_are_not_called_unnotified(
    tmp_path: Path,
) -> None:
    """Outbox rows of long-resolved tickets may be deleted; their timeline stays."""
    with HttpReceiver() as receiver:
        config_file = write_config(tmp_path, route_url=receiver.url("/team"))
        feed(config_file, (State.CRITICAL, ago(60)), send_at=ago(59))
        feed(config_file, (State.OK, ago(30)), send_at=ago(29))
        assert len(receiver.requests) == 2
    with closing(sqlite3.connect(tmp_path / "state" / "mailwatch.db")) as db, db:
        db.execute("DELETE FROM outbox")
    lines = show(config_file)
    assert line(lines, "ticket_opened").endswith("[not_delivered] imap is critical")
    assert line(lines, "ticket_resolved").endswith('"recovered: 1 consecutive ok result"')
    assert [text.split()[3] for text in lines if "notification_sent" in text] == [
        "notification_sent",
        "notification_sent",
    ]
    assert not any("not notified" in text for text in lines)
    timeline = json.loads(mailwatch(config_file, "show", "MW-000001", "--json"))["timeline"]
    # The rows are gone: what became of the notices is no longer known, not "none".
    assert {event["type"]: event["notices"] for event in timeline}["ticket_opened"] is None


def test_an_event_no_route_heard_of_says_not_notified(tmp_path: Path) -> None:
    # The event is marked to notify, but no route is configured: nobody was told.
    config_file = write_config(tmp_path)
    feed(config_file, (State.CRITICAL, ago(60)))
    assert line(show(config_file), "ticket_opened").endswith(
        "[not_delivered] imap is critical (not notified)"
    )


@pytest.mark.parametrize(
    ("response", "shown"),
    [
        # Due 60 min after the resolve: the clock stopped with time left, and no breach.
        ("2h", "(not acknowledged before resolve)"),
        # Due 30 min before the resolve: breached first.
        ("30m", "(not acknowledged before resolve) BREACHED"),
    ],
)
def test_a_ticket_resolved_unacknowledged_shows_how_its_response_clock_ended(
    tmp_path: Path, response: str, shown: str
) -> None:
    config_file = write_config(tmp_path, response=response)
    opened_at = ago(60)
    feed(config_file, (State.CRITICAL, opened_at), (State.OK, ago(1)))
    lines = show(config_file)
    assert lines[0] == "MW-000001  severity 1  resolved"
    due_at = opened_at + (timedelta(hours=2) if response == "2h" else timedelta(minutes=30))
    clock = due_at.astimezone(ZoneInfo("Europe/Athens")).strftime("%Y-%m-%d %H:%M %Z")
    assert line(lines, "response due:") == f"  response due:    {clock} {shown}"


def test_an_acknowledged_ticket_still_shows_its_response_met(tmp_path: Path) -> None:
    config_file = write_config(tmp_path)
    feed(config_file, (State.CRITICAL, ago(60)))
    mailwatch(config_file, "ack", "MW-000001")
    feed(config_file, (State.OK, datetime.now(UTC) + timedelta(seconds=1)))
    lines = show(config_file)
    assert lines[0] == "MW-000001  severity 1  resolved"
    assert line(lines, "response due:").endswith("(met)")
    assert line(lines, "acknowledged ").endswith("carol        (not notified)")

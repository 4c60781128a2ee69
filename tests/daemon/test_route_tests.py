"""Route tests (``[routes.NAME] test_every``) in a real ``mailwatch run``: a route whose
receiver fails its test gets a ticket, told through the fallback, resolved by the next test
that passes; and the schedule survives a restart. The receivers are real HTTP servers on
loopback (``json://`` webhooks)."""

from __future__ import annotations

import re
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from helpers.daemon import DaemonProcess, wait_for
from helpers.http_receiver import HttpReceiver
from mailwatch.daemon.route_tests import RETRY_WHILE_FAILING, next_test_at
from mailwatch.domain.time import parse_instant

T0 = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
SECRET = "t0ken-s3cret-9f2c"
NEXT_AT = re.compile(r"route chat: next test notice at (\S+)")


def routes_toml(state_dir: Path, chat: HttpReceiver, oncall: HttpReceiver, every: str) -> str:
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1

[routes.chat]
urls = ["json://mw:{SECRET}@127.0.0.1:{chat.port}/chat"]
test_every = "{every}"
fallback = "oncall"
notices = ["opened", "recovery"]

[routes.oncall]
urls = ["{oncall.url("/oncall")}"]
"""


def stop_cleanly(daemon: DaemonProcess) -> None:
    assert daemon.proc is not None
    daemon.send(signal.SIGTERM)
    assert daemon.proc.wait(30) == 0


@pytest.mark.parametrize(
    ("last_at", "failing", "every", "due"),
    [
        (None, False, timedelta(days=7), T0),
        (T0 - timedelta(days=1), False, timedelta(days=7), T0 + timedelta(days=6)),
        (T0 - timedelta(days=8), False, timedelta(days=7), T0 - timedelta(days=1)),
        (T0, True, timedelta(days=7), T0 + RETRY_WHILE_FAILING),
        (T0, True, timedelta(minutes=5), T0 + timedelta(minutes=5)),
    ],
    ids=["never-tested", "tested-yesterday", "overdue", "failing", "failing-short-interval"],
)
def test_next_test_at(
    last_at: datetime | None, failing: bool, every: timedelta, due: datetime
) -> None:
    assert next_test_at(last_at, failing, every, T0) == due


def test_failed_route_test_opens_a_ticket_told_through_the_fallback(tmp_path: Path) -> None:
    with HttpReceiver(statuses=[500]) as chat, HttpReceiver() as oncall:
        daemon = DaemonProcess(
            tmp_path, routes_toml(tmp_path / "state", chat, oncall, every="2s"), {}
        )
        try:
            daemon.start()
            opened = oncall.wait_for(1, timeout_s=30)[0].json()
            assert "route-test:chat" in opened["title"] + opened["message"]
            assert "route chat failed its test notice" in opened["message"]
            assert "HTTP" in opened["message"] or "500" in opened["message"]

            # The chat receiver answers 200 from its second request on: the next test passes.
            chat.wait_for(2, timeout_s=30)
            recovered = oncall.wait_for(2, timeout_s=30)[1].json()
            assert "route-test:chat" in recovered["title"] + recovered["message"]
            tickets = wait_for(
                "the route test's ticket resolved",
                lambda: [t for t in daemon.tickets() if t["status"] == "resolved"],
                timeout_s=30,
            )
            assert [(t["check"], t["target"], t["severity"]) for t in tickets] == [
                ("route-test:chat", "chat", 2)
            ]
            assert len(daemon.tickets()) == 1
            # The route under test only ever got test notices, never its own ticket's.
            assert all("Scheduled test of route chat" in r.json()["message"] for r in chat.requests)
            shown = daemon.mailwatch("show", tickets[0]["ticket"])
            assert shown.returncode == 0 and "route-test:chat" in shown.stdout
            stop_cleanly(daemon)
        finally:
            daemon.stop()
        assert "Traceback" not in daemon.stderr
        # The route's token is masked everywhere mailwatch writes: log, tickets, status, notices.
        everywhere = [
            daemon.stderr,
            shown.stdout,
            daemon.mailwatch("tickets", "--all", "--json").stdout,
            (daemon.state_dir / "status.json").read_text(),
            *(r.body.decode() for r in oncall.requests),
        ]
        assert "route-test:chat" in everywhere[2]
        assert not [text for text in everywhere if SECRET in text]


def test_restart_neither_resends_early_nor_forgets(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with HttpReceiver() as chat, HttpReceiver() as oncall:
        (tmp_path / "first").mkdir()
        first = DaemonProcess(tmp_path / "first", routes_toml(state_dir, chat, oncall, "1h"), {})
        try:
            first.start()
            chat.wait_for(1, timeout_s=30)
            wait_for("the test recorded", lambda: "test notice delivered" in first.stderr)
            stop_cleanly(first)
        finally:
            first.stop()
        sent_at = datetime.now().astimezone()

        (tmp_path / "second").mkdir()
        second = DaemonProcess(tmp_path / "second", routes_toml(state_dir, chat, oncall, "1h"), {})
        try:
            second.start()
            found = wait_for("the schedule", lambda: NEXT_AT.search(second.stderr), timeout_s=30)
            due = parse_instant(found.group(1))
            assert due is not None and due > sent_at + timedelta(minutes=59)
            stop_cleanly(second)
        finally:
            second.stop()
        assert len(chat.requests) == 1

        # The same store with a test every 2 s: the stored test is older than that, so the
        # restarted daemon has not forgotten the route and tests it at once.
        (tmp_path / "third").mkdir()
        third = DaemonProcess(tmp_path / "third", routes_toml(state_dir, chat, oncall, "2s"), {})
        try:
            third.start()
            chat.wait_for(2, timeout_s=30)
            stop_cleanly(third)
        finally:
            third.stop()
        assert oncall.requests == []

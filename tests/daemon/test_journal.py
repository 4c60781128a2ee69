"""``mailwatch run``'s log lines, as a real subprocess, with and without the journal.

systemd connects stderr to the journal and sets ``JOURNAL_STREAM`` to that stream's device and
inode. Here stderr is a file, and ``JOURNAL_STREAM`` names that file's device and inode: the
daemon cannot tell it from the journal's socket, which is the point (no journald runs here).
One check, a process that never runs, fails at once and opens a ticket; one route, a webhook on
loopback, hears of it: a state change, a ticket event and a delivery, each its own line.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.daemon import DaemonProcess, wait_for
from helpers.http_receiver import HttpReceiver
from systemd_unit.test_unit import service_section

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
PRIORITY = re.compile(r"^<([0-7])>")


def config_text(state_dir: Path, hook: str, log_format: str) -> str:
    return f"""
[daemon]
state_dir = "{state_dir}"
status_interval_s = 1
start_spread_s = 0
log_format = "{log_format}"

[incidents]
open_after = 1

[[checks.service]]
name = "gone"
protocol = "process"
process_name = "mailwatch-never-runs"
interval_s = 1

[routes.team]
urls = ["{hook}"]

[outbox]
group_wait_s = 0
"""


def journal_stream(path: Path) -> str:
    """``JOURNAL_STREAM`` for a process whose stderr is ``path``."""
    status = path.stat()
    return f"{status.st_dev}:{status.st_ino}"


class LoggingDaemon(DaemonProcess):
    def __init__(self, tmp_path: Path, hook: str, *, log_format: str, journal: str | None):
        stderr = tmp_path / "stderr.log"
        stderr.touch()
        env = {"JOURNAL_STREAM": journal_stream(stderr)} if journal == "stderr" else {}
        if journal == "elsewhere":
            # Inherited from a parent whose stderr was the journal; ours is a file.
            other = tmp_path / "elsewhere.log"
            other.touch()
            env = {"JOURNAL_STREAM": journal_stream(other)}
        super().__init__(tmp_path, config_text(tmp_path / "state", hook, log_format), env)
        assert self.stderr_path == stderr

    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line]

    def wait_for_line(self, pattern: str) -> str:
        found = re.compile(pattern)
        return wait_for(
            f"a log line matching {pattern!r}",
            lambda: next((line for line in self.lines() if found.search(line)), None),
        )


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as hook:
        yield hook


@pytest.fixture
def started() -> Iterator[list[LoggingDaemon]]:
    daemons: list[LoggingDaemon] = []
    yield daemons
    for daemon in daemons:
        daemon.stop()


def start(
    tmp_path: Path,
    receiver: HttpReceiver,
    started: list[LoggingDaemon],
    *,
    log_format: str = "text",
    journal: str | None = None,
) -> LoggingDaemon:
    daemon = LoggingDaemon(tmp_path, receiver.url("/hook"), log_format=log_format, journal=journal)
    started.append(daemon)
    daemon.start()
    return daemon


def break_config_and_hup(daemon: LoggingDaemon) -> None:
    daemon.config.write_text(daemon.config.read_text() + "\n[[checks.service]]\nname = 1\n")
    daemon.send(signal.SIGHUP)


def test_under_the_journal_each_line_starts_with_its_priority_and_has_no_time(
    tmp_path: Path, receiver: HttpReceiver, started: list[LoggingDaemon]
) -> None:
    daemon = start(tmp_path, receiver, started, journal="stderr")
    daemon.wait_for_line("started")
    change = daemon.wait_for_line(r"gone: unknown -> critical")
    assert change.startswith("<5>NOTICE mailwatch.daemon: gone: unknown -> critical")
    opened = daemon.wait_for_line(r"MW-000001 ticket_opened gone")
    assert opened.startswith("<5>NOTICE mailwatch.daemon: MW-000001 ticket_opened gone")
    delivered = daemon.wait_for_line(r"notice delivered to route team")
    assert delivered.startswith("<6>INFO mailwatch.alerts.sender: MW-000001: opened notice")
    break_config_and_hup(daemon)
    refused = daemon.wait_for_line("reload refused")
    assert refused.startswith("<3>ERROR mailwatch.daemon: reload refused, keeping the running")

    lines = daemon.lines()
    assert all(PRIORITY.match(line) for line in lines), lines
    assert not any(TIMESTAMP.search(line) for line in lines), lines


@pytest.mark.parametrize("journal", [None, "elsewhere"])
def test_without_the_journal_lines_start_with_the_time_and_carry_no_priority(
    tmp_path: Path, receiver: HttpReceiver, started: list[LoggingDaemon], journal: str | None
) -> None:
    daemon = start(tmp_path, receiver, started, journal=journal)
    opened = daemon.wait_for_line(r"MW-000001 ticket_opened gone")
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d NOTICE mailwatch.daemon: ", opened
    ), opened
    break_config_and_hup(daemon)
    refused = daemon.wait_for_line("reload refused")
    assert " ERROR mailwatch.daemon: reload refused" in refused
    lines = daemon.lines()
    assert not any(PRIORITY.match(line) for line in lines), lines
    assert all(TIMESTAMP.match(line) for line in lines), lines


def json_lines(daemon: LoggingDaemon) -> list[dict[str, Any]]:
    """Each line's object, after its priority prefix (journald strips the prefix)."""
    entries = []
    for line in daemon.lines():
        match = PRIORITY.match(line)
        assert match, line
        entry = json.loads(line[match.end() :])
        entry["priority"] = int(match.group(1))
        entries.append(entry)
    return entries


def test_json_lines_carry_check_ticket_and_route_fields(
    tmp_path: Path, receiver: HttpReceiver, started: list[LoggingDaemon]
) -> None:
    daemon = start(tmp_path, receiver, started, log_format="json", journal="stderr")
    daemon.wait_for_line("notice delivered to route team")
    break_config_and_hup(daemon)
    daemon.wait_for_line("reload refused")
    entries = json_lines(daemon)

    def one(text: str) -> dict[str, Any]:
        return next(e for e in entries if text in e["message"])

    change = one("gone: unknown -> critical")
    assert (change["level"], change["priority"], change["check"]) == ("notice", 5, "gone")
    assert "ticket" not in change and "route" not in change
    opened = one("ticket_opened")
    assert (opened["check"], opened["ticket"]) == ("gone", "MW-000001")
    delivered = one("notice delivered to route team")
    assert (delivered["check"], delivered["ticket"], delivered["route"]) == (
        "gone",
        "MW-000001",
        "team",
    )
    assert delivered["priority"] == 6
    url_line = one("route team: delivered to")
    assert url_line["route"] == "team" and "check" not in url_line
    refused = one("reload refused")
    assert (refused["level"], refused["priority"]) == ("error", 3)
    assert not any(
        set(e) & {"check", "ticket", "route"} for e in entries if "started" in e["message"]
    )


def exec_reload(daemon: LoggingDaemon, journal: Path) -> int:
    """Run the shipped unit's ``ExecReload=`` lines as systemd does: in order, each with
    ``$MAINPID`` set, stopping at the first that fails; their stderr goes to ``journal``.
    The unit's paths become this test's interpreter and config."""
    assert daemon.proc is not None
    env = {**daemon.env, "JOURNAL_STREAM": journal_stream(journal)}
    for line in service_section()["ExecReload"]:
        argv = shlex.split(line)
        if argv[0] == "/opt/mailwatch/bin/mailwatch":
            argv[:1] = [sys.executable, "-m", "mailwatch"]
        argv = [str(daemon.config) if a == "/etc/mailwatch/mailwatch.toml" else a for a in argv]
        argv = [str(daemon.proc.pid) if a == "$MAINPID" else a for a in argv]
        with journal.open("a") as stderr:
            code = subprocess.run(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr, timeout=60
            ).returncode
        if code != 0:
            return code
    return 0


def test_the_units_exec_reload_refuses_a_broken_config_without_signalling_the_daemon(
    tmp_path: Path, receiver: HttpReceiver, started: list[LoggingDaemon]
) -> None:
    daemon = start(tmp_path, receiver, started, journal="stderr")
    daemon.wait_for_line("started")
    good = daemon.config.read_text()
    journal = tmp_path / "reload.log"
    journal.touch()

    daemon.config.write_text(good + "\n[[checks.service]]\nname = 1\n")
    assert exec_reload(daemon, journal) == 78  # `systemctl reload` fails
    refusal = journal.read_text().splitlines()
    assert refusal[0] == f"<3>mailwatch: invalid config {daemon.config}:"
    assert refusal[1].startswith("<3>  checks.service[1]: protocol must be one of")

    daemon.config.write_text(good.replace("interval_s = 1", "interval_s = 2"))
    assert exec_reload(daemon, journal) == 0
    daemon.wait_for_line("config reloaded")
    # Had the failed reload signalled too, the daemon would have logged a refusal (or a
    # second reload) before this one: signals are handled in the order they come.
    assert "reload refused" not in daemon.stderr
    assert daemon.stderr.count("config reloaded") == 1
    assert daemon.proc is not None and daemon.proc.poll() is None

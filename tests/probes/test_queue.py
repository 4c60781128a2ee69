"""The queue check against the harness Postfix's real queue: held messages (hold), mail to a
domain that always defers (deferred), ages and growth against an injected clock
(``ctx.started_at``), real failures of ``postqueue``. Every test that fills the queue empties it
again. Fakes only where no real peer can exist here, each saying why."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import smtplib
import stat
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import ValidationError

from harness.mailservers import MailServers
from mailwatch.config.checks.levels import Limits
from mailwatch.config.checks.queue import QueueCheckBase
from mailwatch.config.loader import format_validation_error
from mailwatch.config.model import MailwatchConfig
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes import queue as queue_probe
from mailwatch.probes.queue.listing import (
    BadLine,
    Finding,
    QueueSnapshot,
    describe,
    format_age,
    format_rate,
    growth_per_min,
    judge,
    parse_count,
    parse_exim_count,
    parse_exim_listing,
    parse_postqueue_json,
    record_sample,
)
from mailwatch.runner import run_check, run_checks

WAIT_S = 15.0


def queue_check(**data: Any) -> QueueCheckBase:
    entry = {"name": "queue", **data}
    check = MailwatchConfig.model_validate({"checks": {"queue": [entry]}}).checks.queue[0]
    assert isinstance(check, QueueCheckBase)
    return check


def postfix_check(ms: MailServers, **data: Any) -> QueueCheckBase:
    return queue_check(postfix_config_dir=str(ms.postfix_dir), **data)


async def run_at(
    check: QueueCheckBase, at: dt.datetime, memory: dict[str, Any] | None = None
) -> CheckResult:
    """One run with "now" set to ``at``: the clock ages and growth are computed against."""
    ctx = ProbeContext(check=check.name, kind=check.kind, target=check.target, started_at=at)
    if memory is not None:
        ctx.memory = memory
    return await queue_probe.probe(check, ctx)


def send(ms: MailServers, count: int, to: str | None = None) -> None:
    with smtplib.SMTP(ms.host, ms.smtp_port, timeout=10) as smtp:
        for n in range(count):
            msg = EmailMessage()
            msg["From"], msg["To"] = ms.second, to or ms.canary
            msg["Subject"] = f"queue test {n}"
            msg.set_content("queued\n")
            smtp.send_message(msg)


@pytest.fixture
def empty_queue(mail_servers: MailServers) -> Iterator[MailServers]:
    """The harness Postfix, delivering, with nothing queued before or after the test."""
    mail_servers.clear_queue()
    try:
        yield mail_servers
    finally:
        mail_servers.clear_queue()


@pytest.fixture
def held_queue(mail_servers: MailServers) -> Iterator[MailServers]:
    """The harness Postfix holding every message it accepts, its queue empty to start with."""
    ms = mail_servers
    ms.hold_delivery()
    try:
        ms.clear_queue()  # hold_delivery's own probe messages
        yield ms
    finally:
        ms.clear_queue()
        ms.release_delivery()
        ms.clear_queue()


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# --- Postfix, real queue -------------------------------------------------------------------------


async def test_empty_queue_is_ok(empty_queue: MailServers) -> None:
    result = await run_check(postfix_check(empty_queue))
    assert result.state is State.OK, result.summary
    assert result.summary == "Postfix queue empty"
    assert result.target == f"Postfix queue ({empty_queue.postfix_dir})"
    assert result.metrics["total_messages"] == 0
    assert result.metrics["hold_messages"] == 0
    assert "oldest_age_s" not in result.metrics


async def test_held_messages_are_counted(held_queue: MailServers) -> None:
    send(held_queue, 3)
    result = await run_check(postfix_check(held_queue, hold_warning=2, hold_critical=5))
    assert (result.state, result.stage) == (State.WARNING, "queue_hold")
    assert re.fullmatch(
        r"Postfix queue 3 messages \(hold 3, oldest \d+ s\); limits reached: hold 2 \(warning\)",
        result.summary,
    ), result.summary
    assert result.metrics["total_messages"] == 3
    assert result.metrics["hold_messages"] == 3
    assert result.metrics["deferred_messages"] == 0
    assert 0 <= result.metrics["oldest_age_s"] < 30
    # Where to start looking: the oldest messages' queue ids, for a ticket's evidence.
    assert sorted(result.details["oldest_queue_ids"]) == sorted(held_queue.queue_ids("hold"))


async def test_total_over_its_critical_level(held_queue: MailServers) -> None:
    send(held_queue, 3)
    result = await run_check(postfix_check(held_queue, total_warning=2, total_critical=3))
    assert (result.state, result.stage) == (State.CRITICAL, "queue_size")
    assert result.summary.endswith("; limits reached: total 3 (critical)")


async def test_deferred_messages(empty_queue: MailServers) -> None:
    ms = empty_queue
    send(ms, 2, to=f"someone@{ms.deferred_domain}")
    check = postfix_check(ms, deferred_warning=1, deferred_critical=2)
    # Each retry moves a message to the active queue for a moment: wait until both are back.
    deadline = time.monotonic() + WAIT_S
    while True:
        result = await run_check(check)
        if result.metrics.get("deferred_messages") == 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert (result.state, result.stage) == (State.CRITICAL, "queue_deferred"), result.summary
    assert re.fullmatch(
        r"Postfix queue 2 messages \(deferred 2, oldest \d+ s\); "
        r"limits reached: deferred 2 \(critical\)",
        result.summary,
    ), result.summary


async def test_ages_against_an_injected_clock(held_queue: MailServers) -> None:
    send(held_queue, 1)
    check = postfix_check(held_queue)
    now = dt.datetime.now(dt.UTC)
    fresh = await run_at(check, now)
    assert fresh.state is State.OK, fresh.summary

    later = await run_at(check, now + dt.timedelta(hours=2))
    assert (later.state, later.stage) == (State.WARNING, "queue_age")
    assert later.summary == (
        "Postfix queue 1 message (hold 1, oldest 2 h); limits reached: oldest 1 h (warning)"
    )
    assert 7200 <= later.metrics["oldest_age_s"] < 7230

    much_later = await run_at(check, now + dt.timedelta(hours=4, minutes=12))
    assert (much_later.state, much_later.stage) == (State.CRITICAL, "queue_age")
    assert much_later.summary == (
        "Postfix queue 1 message (hold 1, oldest 4 h 12 min); limits reached: oldest 4 h (critical)"
    )


async def test_growth_over_several_runs(held_queue: MailServers) -> None:
    check = postfix_check(held_queue, growth_warning_per_min=1.5, growth_critical_per_min=5)
    memory: dict[str, Any] = {}
    start = dt.datetime.now(dt.UTC)
    first = await run_at(check, start, memory)
    assert first.state is State.OK, first.summary
    assert "growth_per_min" not in first.metrics  # one sample says nothing about growth
    send(held_queue, 2)
    second = await run_at(check, start + dt.timedelta(minutes=1), memory)
    assert second.metrics["growth_per_min"] == pytest.approx(2)
    assert (second.state, second.stage) == (State.WARNING, "queue_growth")
    send(held_queue, 2)
    third = await run_at(check, start + dt.timedelta(minutes=2), memory)
    assert third.metrics["growth_per_min"] == pytest.approx(2)
    assert (third.state, third.stage) == (State.WARNING, "queue_growth")
    assert re.fullmatch(
        r"Postfix queue 4 messages \(hold 4, oldest \d+ (s|min)\), growing 2/min; "
        r"limits reached: growth 1.5/min \(warning\)",
        third.summary,
    ), third.summary
    assert len(memory["queue_samples"]) == 3


async def test_samples_outside_the_window_are_forgotten(held_queue: MailServers) -> None:
    check = postfix_check(held_queue, growth_window_s=120)
    memory: dict[str, Any] = {"queue_samples": [[0.0, 500.0]]}  # from long ago
    start = dt.datetime.now(dt.UTC)
    result = await run_at(check, start, memory)
    assert "growth_per_min" not in result.metrics
    assert memory["queue_samples"] == [[start.timestamp(), 0.0]]


# --- postqueue failing for real ------------------------------------------------------------------


async def test_missing_postqueue_binary(tmp_path: Path) -> None:
    missing = tmp_path / "postqueue"
    result = await run_check(queue_check(postqueue_path=str(missing)))
    assert (result.state, result.stage) == (State.UNKNOWN, "queue_command")
    assert result.summary == (
        f'{missing} not found: install Postfix, or set postqueue_path, or mta = "exim" or "command"'
    )


async def test_postqueue_not_in_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(queue_probe, "SBIN_DIRS", ())
    result = await run_check(queue_check())
    assert (result.state, result.stage) == (State.UNKNOWN, "queue_command")
    assert result.summary.startswith("postqueue not found: install Postfix")


async def test_postqueue_error_is_critical_with_its_message(tmp_path: Path) -> None:
    result = await run_check(queue_check(postfix_config_dir=str(tmp_path)))
    assert (result.state, result.stage) == (State.CRITICAL, "queue_command")
    assert result.summary == (
        "postqueue exited with status 69: "
        f"postqueue: fatal: open {tmp_path}/main.cf: No such file or directory"
    )


async def test_tool_we_may_not_execute(tmp_path: Path) -> None:
    script = tmp_path / "postqueue"
    script.write_text("#!/bin/sh\necho never\n")
    script.chmod(0o644)
    result = await run_check(queue_check(postqueue_path=str(script)))
    assert (result.state, result.stage) == (State.UNKNOWN, "queue_command")
    assert result.summary == f"permission denied running {script}"


async def test_malformed_postqueue_line(tmp_path: Path) -> None:
    """A fake ``postqueue``: Postfix cannot be made to print garbage. The readable lines still
    count; the result is unknown, since the counts may be low."""
    fake = executable(
        tmp_path / "postqueue",
        "#!/bin/sh\n"
        'echo \'{"queue_name": "deferred", "queue_id": "A1", "arrival_time": 1000}\'\n'
        'echo \'{"queue_name": "deferred", "queue_id": "A2", "arrival_ti\'\n'
        'echo \'{"queue_name": "hold", "queue_id": "A3", "arrival_time": 1600}\'\n',
    )
    check = queue_check(postqueue_path=str(fake))
    result = await run_at(check, dt.datetime.fromtimestamp(1000 + 3 * 3600 + 12 * 60, dt.UTC))
    assert (result.state, result.stage) == (State.UNKNOWN, "queue_parse")
    assert result.summary == (
        "Postfix queue 2 messages (deferred 1, hold 1, oldest 3 h 12 min); "
        "limits reached: oldest 1 h (warning); postqueue -j line 2 is not JSON: "
        '\'{"queue_name": "deferred", "queue_id": "A2", "arrival_ti\'; counts leave them out'
    )
    assert result.details["unreadable_lines"] == [2]
    assert result.metrics["total_messages"] == 2


# --- generic command and Exim --------------------------------------------------------------------


async def test_command_printing_a_number(held_queue: MailServers) -> None:
    send(held_queue, 2)
    hold = held_queue.queue_dir / "hold"
    check = queue_check(mta="command", command=["sh", "-c", f"find {hold} -type f | wc -l"])
    result = await run_check(check)
    assert result.state is State.OK, result.summary
    assert result.summary == "Mail queue 2 messages"
    assert result.target == "queue command sh"


async def test_command_with_a_count_pattern(held_queue: MailServers) -> None:
    send(held_queue, 3)
    check = queue_check(
        mta="command",
        command=["postqueue", "-c", str(held_queue.postfix_dir), "-p"],
        count_pattern=r"in (\d+) Requests?\.",
        total_warning=3,
    )
    result = await run_check(check)
    assert (result.state, result.stage) == (State.WARNING, "queue_size")
    assert result.summary == "Mail queue 3 messages; limits reached: total 3 (warning)"


async def test_command_without_a_count() -> None:
    result = await run_check(queue_check(mta="command", command=["echo", "many"]))
    assert (result.state, result.stage) == (State.UNKNOWN, "queue_parse")
    assert result.summary == "echo printed no count: not a whole number: 'many'"


async def test_command_failing() -> None:
    check = queue_check(mta="command", command=["sh", "-c", "echo oops >&2; exit 3"])
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "queue_command")
    assert result.summary == "sh exited with status 3: oops"


EXIM_LISTING = """\
 4d  1.2K 1Ka6u5-00032Z-Eb <from@example.com>
          to@example.com

62h  1.2K 1KaRH0-0007QZ-B5 <> *** frozen ***
          postmaster@example.com

25m  2.9K 0t5C6f-0000c8-00 <alice@wonderland.fict.example>
        D red.king@looking-glass.fict.example
          white.queen@looking-glass.fict.example
       +D bob@example.com

"""
"""``exim -bp`` in the format of the Exim specification (section "-bp"): age (minutes up to
90, then hours up to 72, then days), size, id, sender, ``*** frozen ***``; recipients below,
``D`` for delivered ones, ``+D`` for generated ones."""


async def test_exim_queue_through_a_fake_exim(tmp_path: Path) -> None:
    """A fake ``exim``: Exim and Postfix are both Debian's mail-transport-agent and cannot be
    installed side by side, so the script prints captured output for ``-bpc`` and ``-bp``."""
    (tmp_path / "listing").write_text(EXIM_LISTING)
    fake = executable(
        tmp_path / "exim",
        f'#!/bin/sh\ncase "$1" in\n  -bpc) echo 3 ;;\n  -bp) cat {tmp_path / "listing"} ;;\n'
        '  *) echo "unexpected $*" >&2; exit 2 ;;\nesac\n',
    )
    check = queue_check(mta="exim", exim_path=str(fake), frozen_warning=1)
    result = await run_check(check)
    assert (result.state, result.stage) == (State.CRITICAL, "queue_age")
    assert result.summary == (
        "Exim queue 3 messages (frozen 1, oldest 4 d); "
        "limits reached: oldest 4 h (critical), frozen 1 (warning)"
    )
    assert result.metrics["frozen_messages"] == 1
    assert result.metrics["oldest_age_s"] == 4 * 86400


async def test_exim_count_that_is_not_a_number(tmp_path: Path) -> None:
    """A fake ``exim`` (see above) whose -bpc prints an error message on stdout."""
    fake = executable(tmp_path / "exim", "#!/bin/sh\necho 'Permission denied'\n")
    result = await run_check(queue_check(mta="exim", exim_path=str(fake)))
    assert (result.state, result.stage) == (State.UNKNOWN, "queue_parse")
    assert result.summary == "exim -bpc printed no count: not a whole number: 'Permission denied'"


# --- processes are never left behind, the loop is never blocked ----------------------------------


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 60 & echo $! >> {pids}; wait"
    check = queue_check(mta="command", command=["sh", "-c", script], timeout_s=1)
    started = time.monotonic()
    result = await run_check(check)
    assert time.monotonic() - started < 1.5
    assert (result.state, result.stage) == (State.CRITICAL, "queue_command")
    assert result.summary == "no answer from sh within 1 s during queue_command"
    shell, sleeper = (int(pid) for pid in pids.read_text().split())
    assert not psutil.pid_exists(shell)  # killed and reaped by the check
    # The orphaned sleep is reaped by init, if init reaps at all: dead either way.
    deadline = time.monotonic() + 5
    while psutil.pid_exists(sleeper) and time.monotonic() < deadline:
        try:
            if psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        await asyncio.sleep(0.05)
    else:
        assert not psutil.pid_exists(sleeper)


async def test_a_slow_tool_does_not_block_other_checks() -> None:
    slow = queue_check(name="slow", mta="command", command=["sh", "-c", "sleep 1; echo 5"])
    fast = queue_check(name="fast", mta="command", command=["echo", "7"])
    started = time.monotonic()
    slow_result, fast_result = await run_checks([slow, fast])
    assert time.monotonic() - started < 1.8
    assert slow_result.metrics["total_messages"] == 5
    assert fast_result.metrics["total_messages"] == 7
    assert fast_result.duration_s < 0.5


# --- parsers and verdicts, as pure functions -----------------------------------------------------


def test_postqueue_json_counts_every_queue() -> None:
    lines = [
        '{"queue_name": "maildrop", "queue_id": "M1", "arrival_time": 900}',
        '{"queue_name": "incoming", "queue_id": "I1", "arrival_time": 950}',
        '{"queue_name": "active", "queue_id": "A1", "arrival_time": 990, "recipients": []}',
        '{"queue_name": "deferred", "queue_id": "D1", "arrival_time": 100,'
        ' "recipients": [{"address": "x@example.org", "delay_reason": "connect refused"}]}',
        '{"queue_name": "hold", "queue_id": "H1", "arrival_time": 500}',
        "",
    ]
    snapshot = parse_postqueue_json("\n".join(lines), now=1000)
    assert snapshot == QueueSnapshot(
        total=5,
        parts={"active": 1, "incoming": 2, "deferred": 1, "hold": 1},
        oldest_age_s=900,
        oldest_ids=("D1", "H1", "M1", "I1", "A1"),
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("postqueue: warning: oops", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        ('{"queue_name": "corrupt", "arrival_time": 1}', "has no known queue_name"),
        ('{"queue_name": "hold"}', "has no numeric arrival_time"),
        ('{"queue_name": "hold", "arrival_time": "1"}', "has no numeric arrival_time"),
        ('{"queue_name": "hold", "arrival_time": true}', "has no numeric arrival_time"),
    ],
)
def test_postqueue_json_bad_lines(line: str, reason: str) -> None:
    snapshot = parse_postqueue_json(line, now=0)
    assert snapshot.total == 0
    assert snapshot.bad_lines == (BadLine(1, line, reason),)


def test_exim_listing() -> None:
    snapshot = parse_exim_listing(EXIM_LISTING)
    assert snapshot == QueueSnapshot(total=3, parts={"frozen": 1}, oldest_age_s=4 * 86400)


def test_exim_listing_with_new_ids_and_a_spool_error() -> None:
    listing = (
        " 5m  412 1tAbCd-000000005W-ABCD <a@example.org>\n          b@example.org\n\n"
        "  0 1tAbCe-000000005X-EFGH\n    *** spool read error: No such file ***\n\n"
    )
    assert parse_exim_listing(listing) == QueueSnapshot(
        total=2, parts={"frozen": 0}, oldest_age_s=300
    )


@pytest.mark.parametrize(("text", "count"), [("0\n", 0), ("  1234\n", 1234)])
def test_exim_count(text: str, count: int) -> None:
    assert parse_exim_count(text) == count


@pytest.mark.parametrize(
    ("text", "pattern", "result"),
    [
        ("42\n", None, 42),
        ("-- 12 Kbytes in 7 Requests.\n", r"in (\d+) Requests?", 7),
        ("Mail queue is empty\n", r"in (\d+) Requests?", "no match for 'in (\\\\d+) Requests?'"),
        ("", None, "not a whole number: ''"),
        ("-3", None, "a negative count: -3"),
        ("x" * 100, None, "not a whole number: '" + "x" * 80 + "'… (100 characters)"),
    ],
)
def test_parse_count(text: str, pattern: str | None, result: int | str) -> None:
    regex = re.compile(pattern) if pattern else None
    if isinstance(result, int):
        assert parse_count(text, regex) == result
    else:
        with pytest.raises(ValueError) as raised:
            parse_count(text, regex)
        assert str(raised.value).startswith(result)


@pytest.mark.parametrize(
    ("samples", "per_min"),
    [
        ([], None),
        ([(0, 5)], None),
        ([(0, 5), (0, 9)], None),
        ([(0, 0), (60, 10)], 10),
        ([(0, 100), (60, 100), (120, 100)], 0),
        ([(0, 10), (30, 5)], -10),
        # Every sample counts, not only the first and the last (which say 10/min):
        ([(0, 0), (60, 12), (120, 18), (180, 30)], pytest.approx(9.6)),
    ],
)
def test_growth_per_min(samples: list[tuple[float, float]], per_min: float | None) -> None:
    assert growth_per_min(samples) == per_min


def test_record_sample_keeps_the_window() -> None:
    samples = [[0.0, 1.0], [500.0, 2.0], [900.0, 3.0], [1500.0, 9.0]]  # the last from the future
    assert record_sample(samples, now=1000, total=4, window_s=600) == [
        [500.0, 2.0],
        [900.0, 3.0],
        [1000.0, 4.0],
    ]
    many = [[float(t), 0.0] for t in range(200)]
    assert len(record_sample(many, now=200, total=0, window_s=1000)) == 100


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (3 * 3600 + 12 * 60 + 59, "3 h 12 min"),
        (86400, "1 d"),
        (2 * 86400 + 4 * 3600 + 59, "2 d 4 h"),
    ],
)
def test_format_age(seconds: float, text: str) -> None:
    assert format_age(seconds) == text


@pytest.mark.parametrize(("rate", "text"), [(40.4, "40"), (2.0, "2"), (2.46, "2.5"), (0.04, "0")])
def test_format_rate(rate: float, text: str) -> None:
    assert format_rate(rate) == text


def test_the_summary_of_a_growing_queue() -> None:
    snapshot = QueueSnapshot(
        total=734,
        parts={"active": 0, "incoming": 0, "deferred": 700, "hold": 0},
        oldest_age_s=3 * 3600 + 12 * 60,
    )
    assert describe("Postfix queue", snapshot, 40) == (
        "Postfix queue 734 messages (deferred 700, oldest 3 h 12 min), growing 40/min"
    )
    assert describe("Postfix queue", snapshot, -3) == (
        "Postfix queue 734 messages (deferred 700, oldest 3 h 12 min)"
    )


def test_verdict_order_growth_first_and_unknown_above_warning() -> None:
    snapshot = QueueSnapshot(
        total=600,
        parts={"deferred": 250, "hold": 0},
        oldest_age_s=20000,
        bad_lines=(BadLine(4, "garbage", "is not JSON"),),
    )
    limits = {
        "total": Limits(100, 500),
        "deferred": Limits(50, 200),
        "oldest_s": Limits(3600, 14400),
        "growth_per_min": Limits(10, 50),
    }
    assert judge(snapshot, 60, limits, "postqueue -j") == [
        Finding(State.CRITICAL, "queue_growth", "growth 50/min (critical)"),
        Finding(State.CRITICAL, "queue_deferred", "deferred 200 (critical)"),
        Finding(State.CRITICAL, "queue_size", "total 500 (critical)"),
        Finding(State.CRITICAL, "queue_age", "oldest 4 h (critical)"),
        Finding(
            State.UNKNOWN,
            "queue_parse",
            "postqueue -j line 4 is not JSON: 'garbage'; counts leave them out",
        ),
    ]
    assert judge(QueueSnapshot(total=5), None, limits, "x") == []


# --- config --------------------------------------------------------------------------------------


def _problems(entry: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        MailwatchConfig.model_validate({"checks": {"queue": [{"name": "q", **entry}]}})
    return format_validation_error(raised.value)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"mta": "sendmail"}, "checks.queue[0]: mta must be one of: postfix, exim, command"),
        ({"mta": "command"}, "checks.queue[0].command: required key is missing"),
        (
            {"mta": "command", "command": []},
            "checks.queue[0].command: List should have at least 1 item after validation, not 0",
        ),
        (
            {"mta": "command", "command": ["x"], "count_pattern": r"(\d+) of (\d+)"},
            "checks.queue[0].count_pattern: needs exactly one group (the count), has 2",
        ),
        (
            {"mta": "command", "command": ["x"], "count_pattern": "(("},
            "checks.queue[0].count_pattern: not a valid regular expression: "
            "missing ), unterminated subpattern at position 1",
        ),
        (
            {"mta": "command", "command": ["x"], "oldest_warning_s": 60},
            "checks.queue[0].oldest_warning_s: unknown key",
        ),
        (
            {"mta": "exim", "postqueue_path": "/x"},
            "checks.queue[0].postqueue_path: unknown key",
        ),
        (
            {"deferred_warning": 300},
            "checks.queue[0]: deferred_warning must not be above deferred_critical",
        ),
        (
            {"oldest_warning_s": 20000},
            "checks.queue[0]: oldest_warning_s must not be above oldest_critical_s",
        ),
        (
            {"growth_warning_per_min": 9, "growth_critical_per_min": 3},
            "checks.queue[0]: growth_warning_per_min must not be above growth_critical_per_min",
        ),
        (
            {"total_warning": -1},
            "checks.queue[0].total_warning: Input should be greater than or equal to 0",
        ),
    ],
)
def test_invalid_queue_config(entry: dict[str, Any], problem: str) -> None:
    assert _problems(entry) == [problem]


def test_queue_defaults_and_off_levels() -> None:
    check = queue_check()
    assert check.target == "Postfix queue"
    assert check.limits() == {
        "total": Limits(100, 500),
        "growth_per_min": Limits(None, None),
        "deferred": Limits(50, 200),
        "hold": Limits(None, None),
        "oldest_s": Limits(3600, 14400),
    }
    off = queue_check(total_warning="off", total_critical="off")
    assert off.limits()["total"] == Limits(None, None)
    exim = queue_check(mta="exim")
    assert exim.target == "Exim queue"
    assert exim.limits()["frozen"] == Limits(None, None)

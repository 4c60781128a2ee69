"""The queue check: how many messages the local MTA holds, how old the oldest is, how fast it grows.

The MTA's own tools are run as subprocesses without blocking the loop; a run cut off by the
timeout (or cancelled) kills the tool's whole process group and waits for it. Parsing and the
verdict live in :mod:`.listing`. Growth is the slope over the samples of the last
``growth_window_s``, kept in ``ctx.memory``; "now" is ``ctx.started_at``.

Stages: ``queue_command`` (tool missing, not executable, failed), ``queue_parse`` (output not
understood), ``queue_size``, ``queue_deferred``, ``queue_hold``, ``queue_frozen``, ``queue_age``,
``queue_growth``. Process errors become a stage and a sentence in ``run_tool`` only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailwatch.config.checks.queue import (
    CommandQueue,
    EximQueue,
    PostfixQueue,
    QueueCheckBase,
    QueueStage,
)
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State, worst
from mailwatch.probes.queue.listing import (
    QueueSnapshot,
    growth_per_min,
    judge,
    parse_count,
    parse_exim_count,
    parse_exim_listing,
    parse_postqueue_json,
    record_sample,
    summary,
)

SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
"""Searched after PATH: Debian installs postqueue and exim there, outside a user's PATH."""
SAMPLES_KEY = "queue_samples"
SHOWN_STDERR = 200


@dataclass(frozen=True, slots=True)
class ToolOutput:
    stdout: str
    stderr: str


async def probe(check: QueueCheckBase, ctx: ProbeContext) -> CheckResult:
    now = ctx.started_at.timestamp()
    try:
        if isinstance(check, PostfixQueue):
            label, source = "Postfix queue", "postqueue -j"
            snapshot = await _postfix(check, ctx, now)
        elif isinstance(check, EximQueue):
            label, source = "Exim queue", "exim -bp"
            snapshot = await _exim(check, ctx)
        elif isinstance(check, CommandQueue):
            label, source = "Mail queue", check.command[0]
            snapshot = await _command(check, ctx)
        else:
            raise TypeError(f"no queue probe for {type(check).__name__}")
    except ProbeFailure as failure:
        return ctx.failed(failure)
    growth = None
    if not snapshot.bad_lines:
        # A partly unreadable listing undercounts; it would look like the queue shrank.
        samples = record_sample(
            ctx.memory.get(SAMPLES_KEY, []), now, snapshot.total, check.growth_window_s
        )
        ctx.memory[SAMPLES_KEY] = samples
        growth = growth_per_min(samples)
    findings = judge(snapshot, growth, check.limits(), source)
    metrics = {"total_messages": float(snapshot.total)}
    metrics.update({f"{part}_messages": float(n) for part, n in snapshot.parts.items()})
    if snapshot.oldest_age_s is not None:
        metrics["oldest_age_s"] = snapshot.oldest_age_s
    if growth is not None:
        metrics["growth_per_min"] = growth
    details: dict[str, Any] = {"findings": [f.stage for f in findings]}
    if snapshot.oldest_ids:
        details["oldest_queue_ids"] = list(snapshot.oldest_ids)
    if snapshot.bad_lines:
        details["unreadable_lines"] = [line.number for line in snapshot.bad_lines[:20]]
    return ctx.result(
        worst(f.state for f in findings),
        summary(label, snapshot, growth, findings),
        stage=findings[0].stage if findings else None,
        metrics=metrics,
        details=details,
    )


async def _postfix(check: PostfixQueue, ctx: ProbeContext, now: float) -> QueueSnapshot:
    argv = [check.postqueue_path]
    if check.postfix_config_dir is not None:
        argv += ["-c", str(check.postfix_config_dir)]
    argv.append("-j")
    hint = 'install Postfix, or set postqueue_path, or mta = "exim" or "command"'
    output = await run_tool(ctx, argv, hint)
    return parse_postqueue_json(output.stdout, now)


async def _exim(check: EximQueue, ctx: ProbeContext) -> QueueSnapshot:
    hint = 'install Exim, or set exim_path, or mta = "postfix" or "command"'
    counted = await run_tool(ctx, [check.exim_path, "-bpc"], hint)
    listed = await run_tool(ctx, [check.exim_path, "-bp"], hint)
    ctx.stage = QueueStage.QUEUE_PARSE
    try:
        total = parse_exim_count(counted.stdout)
    except ValueError as exc:
        raise ProbeFailure(
            QueueStage.QUEUE_PARSE, f"exim -bpc printed no count: {exc}", state=State.UNKNOWN
        ) from None
    listing = parse_exim_listing(listed.stdout)
    # -bpc is the count; -bp, run a moment later, only adds ages and frozen messages.
    return QueueSnapshot(total=total, parts=listing.parts, oldest_age_s=listing.oldest_age_s)


async def _command(check: CommandQueue, ctx: ProbeContext) -> QueueSnapshot:
    output = await run_tool(ctx, check.command, "check the command key")
    ctx.stage = QueueStage.QUEUE_PARSE
    try:
        total = parse_count(output.stdout, check.count_regex)
    except ValueError as exc:
        raise ProbeFailure(
            QueueStage.QUEUE_PARSE,
            f"{check.command[0]} printed no count: {exc}",
            state=State.UNKNOWN,
        ) from None
    return QueueSnapshot(total=total)


async def run_tool(ctx: ProbeContext, argv: Sequence[str], hint: str) -> ToolOutput:
    """Run a queue tool to completion; any way it can fail is a ``queue_command`` failure.

    The tool gets its own process group, so that cutting it off also ends whatever it started
    (a shell pipeline); it is always waited for, so no zombie is left behind.
    """
    ctx.stage = QueueStage.QUEUE_COMMAND
    program = _find(argv[0])
    name = Path(argv[0]).name
    ctx.peer = name  # a tool that hangs: "no answer from postqueue within 10 s ..."
    if program is None:
        raise ProbeFailure(QueueStage.QUEUE_COMMAND, f"{argv[0]} not found: {hint}", State.UNKNOWN)
    try:
        proc = await asyncio.create_subprocess_exec(
            program,
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ProbeFailure(
            QueueStage.QUEUE_COMMAND, f"{argv[0]} not found: {hint}", State.UNKNOWN
        ) from None
    except PermissionError:
        raise ProbeFailure(
            QueueStage.QUEUE_COMMAND, f"permission denied running {program}", State.UNKNOWN
        ) from None
    except OSError as exc:
        raise ProbeFailure(
            QueueStage.QUEUE_COMMAND, f"cannot run {program}: {exc.strerror}", State.UNKNOWN
        ) from None
    try:
        stdout, stderr = await proc.communicate()
    except BaseException:
        if proc.returncode is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        # Shielded: a second cancellation must not leave the killed child unreaped.
        await asyncio.shield(proc.wait())
        raise
    out = stdout.decode("utf-8", "replace")
    err = stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise ProbeFailure(QueueStage.QUEUE_COMMAND, f"{name} {_failed(proc.returncode, err)}")
    return ToolOutput(out, err)


def _find(program: str) -> str | None:
    if "/" in program:
        return program
    path = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return shutil.which(program, path=os.pathsep.join([*path, *SBIN_DIRS]))


def _failed(returncode: int | None, stderr: str) -> str:
    if returncode is not None and returncode < 0:
        how = f"was killed by signal {-returncode}"
    else:
        how = f"exited with status {returncode}"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    # Postfix tools print warnings before the fatal line that says what went wrong.
    fatal = next((line for line in lines if "fatal:" in line), lines[0] if lines else None)
    if fatal is None:
        return f"{how} (nothing on stderr)"
    return f"{how}: {fatal if len(fatal) <= SHOWN_STDERR else fatal[:SHOWN_STDERR] + '…'}"

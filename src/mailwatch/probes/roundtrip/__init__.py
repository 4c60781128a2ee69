"""The canary round trip: send through SMTP, confirm over IMAP, time it, clean up.

The IMAP session is opened and the folder selected before the canary is sent, so the server's
IDLE announcement (or the next poll) marks the arrival; latency runs from the SMTP server's
final reply to DATA to that moment. Earlier canaries of the same check that arrived after their
deadline are reported once in the summary and ``late_canaries`` and deleted; the run that sent
them has already failed, so they do not change this run's state. Other leftovers of ours older
than ``sweep_after_s`` are deleted. Messages without our header are never touched.

In the daemon the wait is learned (``learn_deadline``): a stall is declared once a canary is
``learned_deadline_factor`` times later than the slowest of the check's recent healthy round
trips, within [``learned_deadline_min_s``, ``deadline_s``]; a fixed two-minute wait made a held
queue take two probes of two minutes each to open a ticket.

A confirmation run (``ctx.confirming``: the daemon's retry of a failure no ticket holds yet)
whose previous run's canary is still missing waits for its own canary the learned deadline
with ``confirmation_deadline_min_s`` as its floor: the earlier canary is evidence too. If the
earlier canary turns up meanwhile, the run waits the full learned deadline after all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailwatch.config.checks.roundtrip import RoundtripCheck, RoundtripStage
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.domain.results import CheckResult, State
from mailwatch.probes.roundtrip import authentication
from mailwatch.probes.roundtrip.bounces import Bounce, BounceWatch, bounce_watch
from mailwatch.probes.roundtrip.canary import HEADER, Canary, check_search_key, parse_header
from mailwatch.probes.roundtrip.received import hops_from_headers
from mailwatch.probes.roundtrip.tokens import bearer_login, forget_refused
from mailwatch.protocols.imap import ImapSession
from mailwatch.protocols.smtp import SmtpReceipt, send_message

log = logging.getLogger(__name__)


MAX_PENDING = 100
"""Undelivered canaries remembered per check; older ones are still caught by their delay."""
LEARN_WINDOW = 20
"""Healthy latencies remembered per check for the learned deadline."""
LEARN_MIN_SAMPLES = 5
"""Healthy round trips needed before the deadline is learned; until then it is ``deadline_s``."""
HEALTHY_LATENCIES = "healthy_latencies_s"
MISSING_CANARY = "missing_canary"
"""The previous run's canary when that run found it not delivered (its header value: memory
holds JSON values only, since the daemon keeps it in the database for the next owner)."""
PENDING_CANARIES = "pending_canaries"
"""Ids of canaries reported not delivered and not seen since, oldest first."""


def learned_deadline_s(
    latencies_s: Sequence[float], *, factor: float, min_s: float, max_s: float
) -> float | None:
    """``factor`` times the slowest of the last ``LEARN_WINDOW`` healthy latencies, kept within
    [``min_s``, ``max_s``]; None while fewer than ``LEARN_MIN_SAMPLES`` are known.

    The slowest, not a mean: one slow-but-healthy delivery in the window keeps the deadline
    above it, so a check with uneven latencies is not called stalled on its ordinary days.
    """
    if len(latencies_s) < LEARN_MIN_SAMPLES:
        return None
    return min(max_s, max(min_s, factor * max(latencies_s[-LEARN_WINDOW:])))


def deadline_for(check: RoundtripCheck, memory: dict[str, Any]) -> tuple[float, bool]:
    """The wait for this run's canary, and whether it was learned (else ``deadline_s``)."""
    if not check.learn_deadline:
        return check.deadline_s, False
    learned = learned_deadline_s(
        memory.get(HEALTHY_LATENCIES, []),
        factor=check.learned_deadline_factor,
        min_s=check.learned_deadline_min_s,
        max_s=check.deadline_s,
    )
    return (check.deadline_s, False) if learned is None else (learned, True)


def confirmation_wait_s(check: RoundtripCheck, memory: dict[str, Any], deadline_s: float) -> float:
    """A confirmation run's wait while the earlier canary is still missing: the learned
    deadline with ``confirmation_deadline_min_s`` as its floor, never more than ``deadline_s``
    (the learned wait in force).

    ``learned_deadline_min_s`` guards a lone canary against a slow delivery the window has not
    seen; a confirmation is not alone, since the canary before it is already missing for longer
    than the learned deadline. On a path whose learned wait is above the floor anyway, the two
    are the same.
    """
    shorter = learned_deadline_s(
        memory.get(HEALTHY_LATENCIES, []),
        factor=check.learned_deadline_factor,
        min_s=check.confirmation_deadline_min_s,
        max_s=deadline_s,
    )
    return deadline_s if shorter is None else shorter


def _remember_healthy(memory: dict[str, Any], latency_s: float) -> None:
    latencies: list[float] = memory.setdefault(HEALTHY_LATENCIES, [])
    latencies.append(latency_s)
    del latencies[:-LEARN_WINDOW]


def _learn_from_late(memory: dict[str, Any], check: RoundtripCheck, delay_s: float) -> None:
    """A late canary that still came within ``latency_warning_s`` was a healthy delivery the
    learned deadline gave up on too soon: it joins the healthy latencies, so the deadline
    rises to the check's real spread instead of misjudging the next such delivery."""
    if delay_s <= check.latency_warning_s:
        _remember_healthy(memory, max(delay_s, 0.0))


@dataclass
class Arrival:
    folder: str
    uid: int
    seen_at: float
    """``time.monotonic()`` when the server told us (IDLE) or we found it (polling)."""


@dataclass
class Wait:
    """How long a run waits for its canary: ``deadline_s`` (``learned`` or configured), or
    ``confirm_s`` while the previous run's canary (``earlier``) has not been seen by this run."""

    deadline_s: float
    learned: bool
    earlier: Canary | None = None
    confirm_s: float | None = None
    earlier_arrived: bool = False

    @property
    def confirming(self) -> bool:
        """The shorter confirmation wait is in force."""
        return self.confirm_s is not None and self.earlier is not None and not self.earlier_arrived

    @property
    def in_force_s(self) -> float:
        if self.confirming and self.confirm_s is not None:
            return self.confirm_s
        return self.deadline_s


@dataclass
class SweepReport:
    late: list[dict[str, Any]] = field(default_factory=list)
    removed_orphans: int = 0


async def probe(check: RoundtripCheck, ctx: ProbeContext) -> CheckResult:
    vantage = ctx.vantage
    canary = Canary.new(
        check.name, vantage.site if vantage else None, vantage.name if vantage else None
    )
    # Only the run right after a not_delivered one may lean on its canary.
    missing = ctx.memory.pop(MISSING_CANARY, None)
    earlier = parse_header(missing) if isinstance(missing, str) else None
    try:
        imap_login = await bearer_login(check.imap, ctx)
        async with ImapSession(check.imap, ctx, imap_login) as imap:
            return await _round_trip(check, ctx, imap, canary, earlier)
    except ProbeFailure as failure:
        forget_refused(check, failure.stage)
        return ctx.failed(failure, canary=canary.id)


async def _round_trip(
    check: RoundtripCheck,
    ctx: ProbeContext,
    imap: ImapSession,
    canary: Canary,
    earlier: Canary | None,
) -> CheckResult:
    ctx.stage = RoundtripStage.IMAP_PROTOCOL
    if not await imap.select(check.imap.mailbox):
        raise ProbeFailure(
            RoundtripStage.IMAP_PROTOCOL,
            f"folder {check.imap.mailbox} cannot be selected on {imap.where}",
        )
    spam_status = {folder: await imap.status(folder) for folder in check.imap.spam_folders}
    spam_uidnext = {folder: s.uidnext if s else None for folder, s in spam_status.items()}
    missing_folders = [folder for folder, uid in spam_uidnext.items() if uid is None]
    # A spam folder empty now, where nothing arrives while we wait, holds no canary of ours:
    # the sweep need not open it. Whatever lands there later is swept by a later run.
    empty_spam = {folder for folder, s in spam_status.items() if s is not None and s.messages == 0}

    message = canary.message(
        check.mail_from,
        check.rcpt_to,
        subject_variants=check.canary.subject_variants,
        sent_by=check.canary.sent_by,
    )
    smtp_login = await bearer_login(check.smtp, ctx)
    async with bounce_watch(check, ctx, imap, canary) as bounces:
        receipt = await send_message(
            check.smtp,
            check.mail_from,
            check.rcpt_to,
            message,
            ctx,
            smtp_login,
            envelope_id=canary.id,
        )
        try:
            wait = _wait(check, ctx, earlier)
            return await _confirm(
                check,
                ctx,
                imap,
                canary,
                receipt,
                wait,
                spam_uidnext,
                missing_folders,
                empty_spam,
                bounces,
            )
        except asyncio.CancelledError:
            if not ctx.timed_out():
                # The daemon is shutting down: fetch our canary back rather than leave it.
                await asyncio.shield(_remove_after_shutdown(check, canary))
            raise


def _wait(check: RoundtripCheck, ctx: ProbeContext, earlier: Canary | None) -> Wait:
    deadline_s, learned = deadline_for(check, ctx.memory)
    wait = Wait(deadline_s, learned)
    # Only with a learned deadline: without healthy round trips to go by, nothing says how
    # late the earlier canary is.
    if ctx.confirming and learned and earlier is not None and earlier.id in _pending(ctx):
        wait.earlier = earlier
        wait.confirm_s = confirmation_wait_s(check, ctx.memory, deadline_s)
    return wait


async def _confirm(
    check: RoundtripCheck,
    ctx: ProbeContext,
    imap: ImapSession,
    canary: Canary,
    receipt: SmtpReceipt,
    wait: Wait,
    spam_uidnext: dict[str, int | None],
    missing_folders: list[str],
    empty_spam: set[str],
    bounces: BounceWatch | None = None,
) -> CheckResult:
    ctx.stage = RoundtripStage.NOT_DELIVERED
    use_idle = check.imap.use_idle and imap.has_idle
    arrival = await _wait_for(
        check, imap, canary, receipt, wait, spam_uidnext, use_idle, empty_spam, bounces
    )
    deadline_s = wait.in_force_s

    metrics: dict[str, float] = {"send_s": round(receipt.send_s, 3), "deadline_s": deadline_s}
    details: dict[str, Any] = {
        "canary": canary.id,
        "smtp_reply": receipt.reply,
        "wait": "idle" if use_idle else "poll",
    }
    missing_note = ""
    if missing_folders:
        details["missing_spam_folders"] = missing_folders
        missing_note = _missing_spam_note(missing_folders, imap.where)
    if bounces is not None and bounces.earlier:
        details["earlier_bounces"] = bounces.earlier
    if isinstance(arrival, Bounce):
        return await _bounced(
            check, ctx, imap, canary, receipt, arrival, empty_spam, metrics, details
        )
    if arrival is None:
        # The canary may still arrive; the next run reports it as late and deletes it.
        pending = _pending(ctx)
        pending.append(canary.id)
        del pending[:-MAX_PENDING]
        ctx.memory[MISSING_CANARY] = canary.header_value
        sweep = await _sweep(check, ctx, imap, canary, empty_spam)
        metrics["late_canaries"] = len(sweep.late)
        metrics["waited_s"] = deadline_s
        if wait.confirming and wait.earlier is not None:
            missing_s = (datetime.now(UTC) - wait.earlier.sent_at).total_seconds()
            details["confirms"] = wait.earlier.id
            how = f"confirming: the previous run's canary is still missing after {missing_s:.0f} s"
        elif wait.learned:
            factor = check.learned_deadline_factor
            how = f"learned: {factor:g} x the slowest recent healthy round trip"
        else:
            how = "deadline_s"
        return ctx.result(
            State.CRITICAL,
            f"canary to {check.rcpt_to} not delivered within {deadline_s:.3g} s ({how}; "
            f"accepted by {check.smtp.host}: {receipt.reply[:80]}){missing_note}"
            f"{_earlier_bounces_note(details.get('earlier_bounces', []))}",
            stage=RoundtripStage.NOT_DELIVERED,
            metrics=metrics,
            details={**details, "late": sweep.late},
        )

    latency_s = arrival.seen_at - receipt.accepted_at
    metrics["latency_s"] = round(latency_s, 3)
    ctx.stage = RoundtripStage.CLEANUP
    fetched = await imap.fetch_headers(arrival.uid)
    if fetched is not None:
        received = fetched.headers.get_all("Received") or []
        hops = hops_from_headers(received, canary.sent_at)
        details["hops"] = [hop.to_dict() for hop in hops]
        for number, hop in enumerate(hops, start=1):
            if hop.delay_s is not None:
                metrics[f"hop_{number}_delay_s"] = round(hop.delay_s, 3)
    auth = authentication.AuthOutcome()
    if authentication.wanted(check):
        auth = await authentication.judge(
            check, imap, arrival.uid, fetched.headers if fetched is not None else None
        )
        metrics.update(auth.metrics)
        details.update(auth.details)
    cleanup_error: str | None = None
    try:
        await imap.delete([arrival.uid])
        sweep = await _sweep(check, ctx, imap, canary, empty_spam)
        if bounces is not None:
            # A canary that arrived at once was never waited for: bounces of earlier canaries
            # that came meanwhile are looked for here.
            await bounces.look()
            if bounces.earlier:
                details["earlier_bounces"] = bounces.earlier
    except ProbeFailure as failure:
        cleanup_error = failure.summary
        sweep = SweepReport()
    metrics["late_canaries"] = len(sweep.late)
    details["late"] = sweep.late
    details["removed_orphans"] = sweep.removed_orphans
    details["folder"] = arrival.folder
    if arrival.folder == check.imap.mailbox and latency_s <= check.latency_warning_s:
        _remember_healthy(ctx.memory, latency_s)
    result = _verdict(check, ctx, latency_s, arrival, sweep, cleanup_error, metrics, details)
    if auth.note:
        result = _unauthenticated(ctx, result, auth.note, metrics, details)
    if "earlier_bounces" in details:
        note = _earlier_bounces_note(details["earlier_bounces"])
        result = dataclasses.replace(result, summary=result.summary + note)
    if not missing_note:
        return result
    # Told in every result, a warning of its own when nothing worse happened: a canary filed
    # into a folder we cannot see would go unnoticed while the run says ok.
    if result.state is State.OK:
        return ctx.result(
            State.WARNING,
            result.summary + missing_note,
            stage=RoundtripStage.SPAM_FOLDER_MISSING,
            metrics=metrics,
            details=details,
        )
    return ctx.result(
        result.state,
        result.summary + missing_note,
        stage=result.stage,
        metrics=metrics,
        details=details,
    )


def _unauthenticated(
    ctx: ProbeContext,
    result: CheckResult,
    note: str,
    metrics: dict[str, float],
    details: dict[str, Any],
) -> CheckResult:
    """A delivered canary the receiver or mailwatch did not find authenticated: a warning of
    its own when nothing worse happened, else told in the worse result's summary."""
    if result.state is State.OK:
        return ctx.result(
            State.WARNING,
            f"{result.summary}, but {note}",
            stage=RoundtripStage.AUTH_FAILED,
            metrics=metrics,
            details=details,
        )
    return ctx.result(
        result.state,
        f"{result.summary}; {note}",
        stage=result.stage,
        metrics=metrics,
        details=details,
    )


async def _bounced(
    check: RoundtripCheck,
    ctx: ProbeContext,
    imap: ImapSession,
    canary: Canary,
    receipt: SmtpReceipt,
    bounce: Bounce,
    empty_spam: set[str],
    metrics: dict[str, float],
    details: dict[str, Any],
) -> CheckResult:
    """The canary bounced: critical at once, with the report's status and text. The sweep
    still runs, so late canaries are reported as by any run."""
    metrics["bounced_s"] = round(bounce.seen_at - receipt.accepted_at, 3)
    summary = f"canary to {check.rcpt_to} bounced by {bounce.mta}: {bounce.reason}"
    try:
        sweep = await _sweep(check, ctx, imap, canary, empty_spam)
    except ProbeFailure as failure:
        sweep = SweepReport()
        summary = f"{summary}; cleanup failed: {failure.summary}"
    if bounce.cleanup_error is not None:
        summary = f"{summary}; the bounce could not be deleted: {bounce.cleanup_error}"
    metrics["late_canaries"] = len(sweep.late)
    return ctx.result(
        State.CRITICAL,
        summary,
        stage=RoundtripStage.BOUNCED,
        metrics=metrics,
        details={**details, "bounce": bounce.details(), "late": sweep.late},
    )


def _earlier_bounces_note(earlier: list[dict[str, Any]]) -> str:
    """Told, not counted, like a late canary: the run that sent it already failed."""
    if not earlier:
        return ""
    last = earlier[-1]
    reason = " ".join(w for w in (last["status"], last["diagnostic"]) if w)[:120]
    many = f"{len(earlier)} earlier canaries" if len(earlier) > 1 else "an earlier canary"
    return f"; {many} bounced ({reason or last['action']})"


def _missing_spam_note(folders: list[str], where: str) -> str:
    which = "spam folder" if len(folders) == 1 else "spam folders"
    return (
        f"; {which} {', '.join(folders)} not found on {where}: a canary filed as spam there "
        "would go unseen (check imap.spam_folders)"
    )


def _verdict(
    check: RoundtripCheck,
    ctx: ProbeContext,
    latency_s: float,
    arrival: Arrival,
    sweep: SweepReport,
    cleanup_error: str | None,
    metrics: dict[str, float],
    details: dict[str, Any],
) -> CheckResult:
    timing = f"in {latency_s:.2f} s"
    if arrival.folder != check.imap.mailbox:
        state, stage = State.WARNING, RoundtripStage.DELIVERED_TO_SPAM
        summary = f"canary delivered to spam folder {arrival.folder} {timing}"
    elif latency_s > check.latency_critical_s:
        state, stage = State.CRITICAL, RoundtripStage.SLOW
        summary = f"canary delivered {timing}, over the critical {check.latency_critical_s:g} s"
    elif latency_s > check.latency_warning_s:
        state, stage = State.WARNING, RoundtripStage.SLOW
        summary = f"canary delivered {timing}, over the warning {check.latency_warning_s:g} s"
    else:
        state, stage = State.OK, None
        summary = f"canary delivered {timing}"
    if sweep.late:
        delays = [entry["delay_s"] for entry in sweep.late if entry["delay_s"] is not None]
        longest = f"up to {max(delays):g} s after sending" if delays else "delay unknown"
        # The wait the next run will use: a late canary within latency_warning_s raised it.
        next_wait_s, _ = deadline_for(check, ctx.memory)
        late = (
            f"{len(sweep.late)} earlier canary(ies) arrived after their run gave up "
            f"({longest}; next wait {next_wait_s:.3g} s)"
        )
        # Told, not counted: the run that sent a late canary already failed as not_delivered,
        # and this run's own canary decides its state (a second failure for the same delay
        # would open a ticket on one slow delivery, or hold one open after mail flows again).
        # Where it landed is news, though: a late canary in a spam folder is still misfiled.
        summary = f"{summary}; {late}"
        in_spam = sorted({e["folder"] for e in sweep.late if e["folder"] != check.imap.mailbox})
        if in_spam and state is State.OK:
            state, stage = State.WARNING, RoundtripStage.DELIVERED_TO_SPAM
            summary = f"{summary}, in spam folder {', '.join(in_spam)}"
    if cleanup_error is not None:
        summary = f"{summary}; cleanup failed: {cleanup_error}"
        if state is State.OK:
            state, stage = State.WARNING, RoundtripStage.CLEANUP
    return ctx.result(state, summary, stage=stage, metrics=metrics, details=details)


async def _wait_for(
    check: RoundtripCheck,
    imap: ImapSession,
    canary: Canary,
    receipt: SmtpReceipt,
    wait: Wait,
    spam_uidnext: dict[str, int | None],
    use_idle: bool,
    empty_spam: set[str],
    bounces: BounceWatch | None = None,
) -> Arrival | Bounce | None:
    """Wait until the canary shows up in the mailbox or a spam folder, its bounce comes
    (``bounces``), or the wait in force (``wait.in_force_s``) after DATA was accepted. A spam
    folder where something arrived is taken out of ``empty_spam``; an earlier canary seen in
    the mailbox ends the shorter wait.
    """
    watched_spam = {folder: uid for folder, uid in spam_uidnext.items() if uid is not None}
    mailbox = check.imap.mailbox
    while True:
        if wait.confirming and wait.earlier is not None:
            # Looked for before each give-up: mail that moves again ends the shortcut.
            wait.earlier_arrived = bool(await imap.search_header(HEADER, wait.earlier.id))
        remaining = receipt.accepted_at + wait.in_force_s - time.monotonic()
        if remaining <= 0:
            return None
        # Wake up every poll interval even with IDLE: spam folders cannot be IDLEd alongside
        # the inbox, and an announcement that came while we were not idling is not repeated.
        wait_s = min(remaining, check.imap.poll_interval_s)
        if bounces is not None:
            wait_s = min(wait_s, bounces.poll_interval_s)
        if use_idle:
            announced = await imap.idle(wait_s)
        else:
            await asyncio.sleep(wait_s)
            await imap.noop()
            announced = None
        uids = await imap.search_header(HEADER, canary.id)
        if uids:
            return Arrival(mailbox, uids[0], announced or time.monotonic())
        if bounces is not None and (bounce := await bounces.look()) is not None:
            return bounce
        for folder, before in watched_spam.items():
            now_uidnext = await imap.uidnext(folder)
            if now_uidnext is None or now_uidnext == before:
                continue
            watched_spam[folder] = now_uidnext
            empty_spam.discard(folder)
            found_at = time.monotonic()
            await imap.select(folder)
            uids = await imap.search_header(HEADER, canary.id)
            if uids:
                return Arrival(folder, uids[0], found_at)
            await imap.select(mailbox)


async def _sweep(
    check: RoundtripCheck,
    ctx: ProbeContext,
    imap: ImapSession,
    canary: Canary,
    empty_spam: set[str],
) -> SweepReport:
    """Report and delete this check's late canaries; delete its stale leftovers.

    Spam folders in ``empty_spam`` are known to hold nothing and are not opened.
    """
    ctx.stage = RoundtripStage.CLEANUP
    report = SweepReport()
    now = datetime.now(UTC)
    for folder in _folders_to_sweep(check, empty_spam):
        if imap.selected != folder and not await imap.select(folder):
            continue
        await imap.delete(await _sweep_folder(check, ctx, imap, canary, folder, now, report))
    return report


def _folders_to_sweep(check: RoundtripCheck, empty_spam: set[str]) -> list[str]:
    mailbox = check.imap.mailbox
    folders = [mailbox, *check.imap.spam_folders]
    return [folder for folder in folders if folder == mailbox or folder not in empty_spam]


async def _sweep_folder(
    check: RoundtripCheck,
    ctx: ProbeContext,
    imap: ImapSession,
    canary: Canary,
    folder: str,
    now: datetime,
    report: SweepReport,
) -> list[int]:
    """The uids in the selected ``folder`` to delete: leftovers of this check other than
    ``canary`` that are late (reported in ``report``) or stale."""
    doomed: list[int] = []
    # A site sweeps its own canaries only: another site's may still be on their way to it.
    site = canary.site
    for uid in await imap.search_header(HEADER, check_search_key(check.name, site)):
        fetched = await imap.fetch_headers(uid)
        if fetched is None:
            continue
        found = parse_header(str(fetched.headers.get(HEADER, "")))
        if found is None or found.check != check.name or found.id == canary.id:
            continue
        if site is not None and found.site != site:
            continue
        received = [str(value) for value in fetched.headers.get_all("Received") or []]
        if _sweeps(check, ctx, found, folder, fetched.internal_date, now, report, received):
            doomed.append(uid)
    return doomed


def _sweeps(
    check: RoundtripCheck,
    ctx: ProbeContext,
    found: Canary,
    folder: str,
    arrived: datetime | None,
    now: datetime,
    report: SweepReport,
    received: list[str],
) -> bool:
    """Whether one earlier canary of this check goes: a late one (its run gave up on it, or
    it took longer than ``deadline_s``) is reported, with its Received hops, and learned
    from; a stale one counted."""
    delay_s = (arrived - found.sent_at).total_seconds() if arrived else None
    pending = _pending(ctx)
    # INTERNALDATE has whole seconds: the arrival lies within [date, date + 1 s).
    if found.id in pending or (delay_s is not None and delay_s + 1.0 > check.deadline_s):
        if found.id in pending:
            pending.remove(found.id)
        if folder == check.imap.mailbox and delay_s is not None:
            _learn_from_late(ctx.memory, check, delay_s)
        report.late.append(_late_entry(found, folder, arrived, delay_s, received))
        return True
    if (now - found.sent_at).total_seconds() > check.sweep_after_s:
        report.removed_orphans += 1
        return True
    return False


def _late_entry(
    found: Canary,
    folder: str,
    arrived: datetime | None,
    delay_s: float | None,
    received: list[str],
) -> dict[str, Any]:
    # The hops say where a late canary waited; a ticket's evidence keeps them.
    hops = hops_from_headers(received, found.sent_at)
    return {
        "canary": found.id,
        "folder": folder,
        "sent_at": found.sent_at.isoformat(timespec="seconds"),
        "arrived_at": arrived.isoformat() if arrived else None,
        "delay_s": None if delay_s is None else round(delay_s, 1),
        "hops": [hop.to_dict() for hop in hops],
    }


SHUTDOWN_CLEANUP_S = 5.0
"""How long a cancelled probe waits for its canary to arrive so it can delete it."""


async def _remove_after_shutdown(check: RoundtripCheck, canary: Canary) -> None:
    """Delete this run's canary over a fresh session, waiting briefly for it to arrive.

    Best effort: a canary still in transit after ``SHUTDOWN_CLEANUP_S`` is left to the sweep
    of a later run (``sweep_after_s``).
    """
    ctx = ProbeContext(check=check.name, kind=check.kind, target=check.target)
    try:
        async with asyncio.timeout(SHUTDOWN_CLEANUP_S):
            login = await bearer_login(check.imap, ctx)
            async with ImapSession(check.imap, ctx, login) as imap:
                while True:
                    for folder in [check.imap.mailbox, *check.imap.spam_folders]:
                        if await imap.select(folder):
                            uids = await imap.search_header(HEADER, canary.id)
                            if uids:
                                await imap.delete(uids)
                                return
                    await asyncio.sleep(check.imap.poll_interval_s)
    except (TimeoutError, ProbeFailure):
        log.warning("canary %s of %s left for a later sweep", canary.id, check.name)


def _pending(ctx: ProbeContext) -> list[str]:
    """Ids of this check's canaries reported not_delivered, while the daemon remembers them."""
    pending: list[str] = ctx.memory.setdefault(PENDING_CANARIES, [])
    return pending

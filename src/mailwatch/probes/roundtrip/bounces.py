"""Watching the envelope sender's mailbox for a bounce of the canary while the run waits.

With ``[checks.roundtrip.bounces]`` the run notes where the bounce folder ends before it sends
(``UIDNEXT``), and each time the arrival wait wakes it looks at the messages that came since:
a delivery status notification (RFC 3464) about this canary that reports a failure ends the
run at once (stage ``bounced``); it is deleted like a canary. Reports about the check's earlier
canaries (a bounce that came after its run gave up) are deleted and listed; anything else,
reports about other mail included, is never touched. Where the folder was looked at last is
remembered between runs, so a bounce that came in between is found by the next run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from mailwatch.config.checks.roundtrip import RoundtripCheck
from mailwatch.domain.errors import ProbeFailure
from mailwatch.domain.probing import ProbeContext
from mailwatch.probes.roundtrip.canary import Canary
from mailwatch.probes.roundtrip.dsn import (
    DeliveryReport,
    RecipientReport,
    is_report_content_type,
    parse_report,
)
from mailwatch.protocols.imap import ImapSession

MAX_REPORT_BYTES = 256 * 1024
"""Bytes of a report read at most: the status fields come first, the returned message after."""
MAX_NEW_PER_LOOK = 200
"""New messages looked at per look; a flood of mail in the sender's mailbox is not read whole."""
NEXT_UID = "bounce_next_uid"
"""Memory key: where the bounce folder was looked at last (``{"where", "uid"}``)."""


@dataclass(frozen=True, slots=True)
class Bounce:
    """A report that this run's canary could not be delivered."""

    report: DeliveryReport
    failure: RecipientReport
    seen_at: float
    """``time.monotonic()`` when the look found it."""
    cleanup_error: str | None = None

    @property
    def mta(self) -> str:
        """Who refused the canary: the remote server named in the report, else its writer."""
        return self.failure.remote_mta or self.report.reporting_mta or "an unnamed server"

    @property
    def reason(self) -> str:
        words = " ".join(w for w in (self.failure.status, self.failure.diagnostic) if w)
        return words or "no reason given"

    def details(self) -> dict[str, Any]:
        return {
            "status": self.failure.status,
            "diagnostic": self.failure.diagnostic,
            "recipient": self.failure.recipient,
            "remote_mta": self.failure.remote_mta,
            "reporting_mta": self.report.reporting_mta,
        }


@dataclass
class BounceWatch:
    """One run's look-out on the bounce folder (``folder`` in ``session``)."""

    check: RoundtripCheck
    ctx: ProbeContext
    session: ImapSession
    folder: str
    canary: Canary
    shared: bool
    """``session`` is the run's own IMAP session (``same_account``): it is not ours to NOOP,
    and whatever folder it had selected is selected again after a look elsewhere."""
    poll_interval_s: float
    next_uid: int = 1
    earlier: list[dict[str, Any]] = field(default_factory=list)
    """Bounces of this check's earlier canaries, found and deleted."""

    @property
    def _where(self) -> str:
        return f"{self.session.where}/{self.session.endpoint.username}/{self.folder}"

    async def begin(self) -> None:
        """Note where the folder ends now; a remembered place from the last run goes first."""
        status = await self.session.status(self.folder)
        if status is None:
            raise ProbeFailure(
                "imap_protocol",
                f"bounce folder {self.folder} cannot be found on {self.session.where}",
            )
        remembered = self.ctx.memory.get(NEXT_UID)
        start = status.uidnext
        if isinstance(remembered, dict) and remembered.get("where") == self._where:
            uid = remembered.get("uid")
            if isinstance(uid, int) and 0 < uid <= status.uidnext:
                start = max(uid, status.uidnext - MAX_NEW_PER_LOOK)
        self.next_uid = start
        self.ctx.memory[NEXT_UID] = {"where": self._where, "uid": start}
        if not self.shared and not await self.session.select(self.folder):
            raise ProbeFailure(
                "imap_protocol",
                f"bounce folder {self.folder} cannot be selected on {self.session.where}",
            )

    async def look(self) -> Bounce | None:
        """This canary's bounce, if it has come; deletes the reports about our canaries."""
        session = self.session
        back_to: str | None = None
        if not self.shared:
            await session.noop()
        elif session.selected != self.folder:
            status = await session.status(self.folder)
            if status is None or status.uidnext <= self.next_uid:
                return None
            back_to = session.selected
            if not await session.select(self.folder):
                return None
        try:
            return await self._look_here()
        finally:
            if back_to is not None:
                await session.select(back_to)

    async def _look_here(self) -> Bounce | None:
        session = self.session
        uids = (await session.uids_from(self.next_uid))[:MAX_NEW_PER_LOOK]
        if not uids:
            return None
        self.next_uid = uids[-1] + 1
        self.ctx.memory[NEXT_UID] = {"where": self._where, "uid": self.next_uid}
        message_id = self.canary.message_id(self.check.mail_from)
        found: Bounce | None = None
        ours: list[int] = []
        for uid in uids:
            report = await self._report(uid)
            if report is None:
                continue
            if report.is_about(self.canary, message_id):
                ours.append(uid)
                if found is None and report.failures:
                    found = Bounce(report, report.failures[0], time.monotonic())
                continue
            returned = report.returned_canary()
            if returned is not None and returned.check == self.check.name:
                ours.append(uid)
                self.earlier.append(_earlier_entry(returned, report))
        cleanup_error: str | None = None
        try:
            await session.delete(ours)
        except ProbeFailure as failure:
            cleanup_error = failure.summary
        if found is not None and cleanup_error is not None:
            found = Bounce(found.report, found.failure, found.seen_at, cleanup_error)
        return found

    async def _report(self, uid: int) -> DeliveryReport | None:
        fetched = await self.session.fetch_headers(uid)
        if fetched is None or not is_report_content_type(fetched.headers):
            return None
        raw = await self.session.fetch_message(uid, MAX_REPORT_BYTES)
        return None if raw is None else parse_report(raw)


def _earlier_entry(returned: Canary, report: DeliveryReport) -> dict[str, Any]:
    failure = report.failures[0] if report.failures else None
    return {
        "canary": returned.id,
        "sent_at": returned.sent_at.isoformat(timespec="seconds"),
        "action": failure.action if failure else ",".join(r.action for r in report.recipients),
        "status": failure.status if failure else "",
        "diagnostic": failure.diagnostic if failure else "",
    }


@asynccontextmanager
async def bounce_watch(
    check: RoundtripCheck, ctx: ProbeContext, imap: ImapSession, canary: Canary
) -> AsyncIterator[BounceWatch | None]:
    """The run's look-out on the bounce folder, ready before the canary is sent; None when
    the check has no ``[checks.roundtrip.bounces]``."""
    settings = check.bounces
    if settings is None:
        yield None
        return
    if settings.imap is None:
        watch = BounceWatch(
            check,
            ctx,
            imap,
            settings.mailbox or check.imap.mailbox,
            canary,
            shared=True,
            poll_interval_s=check.imap.poll_interval_s,
        )
        await watch.begin()
        yield watch
        return
    async with ImapSession(settings.imap, ctx) as own:
        watch = BounceWatch(
            check,
            ctx,
            own,
            settings.mailbox or settings.imap.mailbox,
            canary,
            shared=False,
            poll_interval_s=settings.imap.poll_interval_s,
        )
        await watch.begin()
        yield watch

"""The canary message: a unique token in its own header, so we only ever touch our own mail.

The header looks like ``X-Mailwatch-Canary: check=canary-main; id=<uuid4 hex>; sent=<ISO 8601>``
(canaries sent before the header said ``check=`` say ``route=``; they are still ours). A check
that several sites run (``run_from``) adds the sender's site and node:
``check=canary-main; site=site-a; node=mw1; id=...; sent=...``.
Mailboxes are searched for the id (our canary) or for ``=<name>;`` (our leftovers, either way;
``=<name>; site=<site>;`` for one site's).
"""

from __future__ import annotations

import re
import textwrap
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime

HEADER = "X-Mailwatch-Canary"
_TOKEN = re.compile(
    r"(?:check|route)=(?P<check>[A-Za-z0-9._-]+);"
    r"(?:\s*site=(?P<site>[A-Za-z0-9._-]+);)?(?:\s*node=(?P<node>[A-Za-z0-9._-]+);)?"
    r"\s*id=(?P<id>[0-9a-f]{32});\s*sent=(?P<sent>\S+)"
)


@dataclass(frozen=True, slots=True)
class Canary:
    """One test message of one check (``check`` is the check's name), sent from ``site`` by
    ``node`` when several sites run the check."""

    check: str
    id: str
    sent_at: datetime
    site: str | None = None
    node: str | None = None

    @classmethod
    def new(cls, check: str, site: str | None = None, node: str | None = None) -> Canary:
        return cls(check, uuid.uuid4().hex, datetime.now(UTC), site, node)

    @property
    def header_value(self) -> str:
        sent = self.sent_at.isoformat(timespec="microseconds")
        where = f"site={self.site}; " if self.site is not None else ""
        where += f"node={self.node}; " if self.node is not None else ""
        return f"check={self.check}; {where}id={self.id}; sent={sent}"

    def message_id(self, mail_from: str) -> str:
        """The canary's Message-ID, on the sender's domain: ``<mailwatch.<id>@<domain>>``."""
        domain = mail_from.rpartition("@")[2] or "mailwatch.invalid"
        return f"<mailwatch.{self.id}@{domain}>"

    def message(
        self,
        mail_from: str,
        rcpt_to: str,
        *,
        subject_variants: Sequence[str] = (),
        sent_by: str | None = None,
    ) -> bytes:
        """The canary as it goes on the wire (CRLF line ends, 7-bit unless a text is not).

        Written out, not built with ``email.message.EmailMessage``: its header registry parsed
        every address again and was the costliest Python in a probe (docs/performance.md).
        Addresses are used as configured; a non-ASCII one goes out as UTF-8 (RFC 6532).
        It looks like the mail people send (a Date, a Message-ID on the sender's domain, a
        text body saying what it is and who sends it): quarantines catch empty test messages.
        ``subject_variants``, when given, are used in turn (by the canary's id) instead of the
        subject that names the check and the id; the id stays in our header either way.
        """
        # No reverse-DNS lookup here: this runs on the event loop.
        domain = mail_from.rpartition("@")[2] or "mailwatch.invalid"
        who = sent_by or f"the administrators of {domain}"
        about = (
            f"This is a mailwatch canary: a test message that proves mail flows from "
            f"{mail_from} to {rcpt_to}. It is sent by {who} to watch that mail is delivered "
            f"(check {self.check}), and mailwatch deletes it as soon as it arrives. "
            "Please do not reply to it."
        )
        body = [*textwrap.wrap(about, width=76, break_long_words=False, break_on_hyphens=False), ""]
        if subject_variants:
            subject = subject_variants[int(self.id, 16) % len(subject_variants)]
        else:
            subject = f"[mailwatch canary] {self.check} {self.id}"
        if not subject.isascii():
            subject = Header(subject, "utf-8").encode(linesep="\r\n")
        plain = mail_from.isascii() and rcpt_to.isascii() and who.isascii()
        encoding = "7bit" if plain else "8bit"
        lines = [
            f"From: {mail_from}",
            f"To: {rcpt_to}",
            f"Subject: {subject}",
            f"Date: {format_datetime(self.sent_at)}",
            f"Message-ID: {self.message_id(mail_from)}",
            f"{HEADER}: {self.header_value}",
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            'Content-Type: text/plain; charset="utf-8"',
            f"Content-Transfer-Encoding: {encoding}",
            "",
            *body,
        ]
        return "\r\n".join(lines).encode("utf-8")


def check_search_key(check: str, site: str | None = None) -> str:
    """What to search the header for to find every canary of one check: ``=<name>;`` is part
    of ``check=<name>;`` and of the older ``route=<name>;``, so one search finds both, and
    never a check whose name merely ends in ``<name>``. With ``site``, only that site's
    (``=<name>; site=<site>;``). ``parse_header`` then says whose."""
    return f"={check}; site={site};" if site is not None else f"={check};"


def parse_header(value: str) -> Canary | None:
    """Our header's value back into a Canary; None for anything that is not ours."""
    match = _TOKEN.search(value)
    if match is None:
        return None
    try:
        sent_at = datetime.fromisoformat(match["sent"])
    except ValueError:
        return None
    if sent_at.tzinfo is None:
        return None
    return Canary(match["check"], match["id"], sent_at, match["site"], match["node"])

"""Every exception mailwatch raises on purpose, in one tree::

    MailwatchError
    ├── ConfigError                 the config file cannot be read or is invalid (exit 78)
    ├── SecretUnavailableError      a secret reference cannot be resolved where it is used
    ├── ProbeFailure                a probe ends with a failed result: a stage and a summary
    ├── SmtpUnreachable             one address held no SMTP greeting; the message says why
    ├── CertificateRejected         a verifying TLS handshake refused the peer's chain
    ├── LeaseLostError              another node took the check over: this node's result is not kept
    ├── AckLinkRefusedError         an ack link this key did not sign (altered, cut short)
    │   └── AckLinkExpiredError       a genuine ack link past its expiry
    ├── StoreError                  the database cannot be used (exit 74)
    │   ├── DatabaseMissingError      no database yet: the daemon has not run (exit 66)
    │   ├── NewerSchemaError          written by a newer mailwatch
    │   ├── OlderSchemaError          not yet migrated, and the caller may not migrate it
    │   ├── NotMailwatchDatabaseError not a mailwatch database, or damaged
    │   ├── StoreBusyError            another process held it too long
    │   └── StoreConflictError        a concurrent transaction won (PostgreSQL 40001, 40P01)
    └── TicketError                 a person's ticket command cannot be carried out
        ├── TicketNotFoundError       no ticket has this number (also a LookupError)
        ├── UnknownCheckError         a silence names a check that is not configured
        ├── SilenceNotFoundError      no silence has this id
        ├── TicketActionError         the ticket's state does not allow the action
        │   └── AlreadyDoneError          it is already so (acknowledged, ...): a no-op
        └── TimelineError             a timeline that describes no ticket

Library errors (aiosmtplib, aioimaplib, ssl, dnspython, SQLAlchemy) never travel past the
module that talks to that library: each protocol maps its library's errors to a
``ProbeFailure`` at one boundary (``mailwatch.protocols.*``, ``mailwatch.dns``), and the store
maps SQLAlchemy's to a ``StoreError`` (``mailwatch.store.store``). ``SmtpUnreachable`` and
``CertificateRejected`` are what a protocol tells a probe that judges the failure itself
rather than ending with it: the mx probe counts unreachable hosts, the tls probe reports a
refused chain as a finding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from mailwatch.domain.results import State


class MailwatchError(Exception):
    """The root: anything mailwatch raises on purpose."""


class ConfigError(MailwatchError):
    """The file could not be read or is invalid; ``problems`` holds one line each."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        super().__init__(f"{path}: {len(problems)} problem(s)")
        self.path = path
        self.problems = list(problems)


class SecretUnavailableError(MailwatchError):
    """An ``env:``, ``file:`` or ``credential:`` secret, left unresolved at load time, cannot
    be resolved now it is needed; the message names the variable, file or credential, never
    a value."""


class AckLinkRefusedError(MailwatchError):
    """An ack link that ``[web] link_key`` did not sign: altered, cut short, or signed with a
    key since changed. The message says which, never the key."""


class AckLinkExpiredError(AckLinkRefusedError):
    """A genuine ack link whose time has passed."""

    def __init__(self, ticket: int, expires_at: datetime) -> None:
        super().__init__(f"the link expired at {expires_at.isoformat()}")
        self.ticket = ticket
        self.expires_at = expires_at


class ProbeFailure(MailwatchError):
    """Raised inside a probe to end it with a failed result.

    Each protocol module turns its library's exceptions into this at one boundary.
    """

    def __init__(
        self,
        stage: str,
        summary: str,
        state: State = State.CRITICAL,
        metrics: Mapping[str, float] | None = None,
        reply: str | None = None,
    ) -> None:
        super().__init__(summary)
        self.stage = stage
        self.summary = summary
        self.state = state
        self.metrics = dict(metrics or {})
        self.reply = reply
        """The server's own reply that ended the run (``550 5.1.1 …``), when one did."""


class SmtpUnreachable(MailwatchError):
    """One address could not be greeted on SMTP; the message is the reason, in a few words
    (``connection refused``, ``no banner within 10 s``), for the probe's summary."""


class CertificateRejected(MailwatchError):
    """A verifying TLS handshake refused the peer's chain; OpenSSL's code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class LeaseLostError(MailwatchError):
    """A result came from a run of a check whose lease another node holds now; that node runs
    the check, so this result is dropped rather than counted twice."""


class StoreError(MailwatchError):
    """The database cannot be used; the message says why and what to do."""


class DatabaseMissingError(StoreError):
    """No database file exists yet, and the caller may not create one (only the daemon does)."""


class NewerSchemaError(StoreError):
    """The database was written by a newer mailwatch."""


class OlderSchemaError(StoreError):
    """The database has an older schema, and the caller may not migrate it (only the daemon
    does)."""


class NotMailwatchDatabaseError(StoreError):
    """The file is not a mailwatch database, or it is damaged."""


class StoreBusyError(StoreError):
    """Another process held the database longer than the store's busy timeout."""


class StoreUnavailableError(StoreError):
    """The database server cannot be reached, or dropped the connection (stopped, restarting,
    network down): nothing was written, and the same work may succeed once it is back."""


class StoreConflictError(StoreError):
    """A concurrent transaction made this one impossible (a serialization failure or a
    deadlock): nothing was written, and running the transaction again may well succeed
    (``mailwatch.store.retry``)."""


class TicketError(MailwatchError):
    """A ticket command that cannot be carried out; the message says why."""


class TicketNotFoundError(TicketError, LookupError):
    """No ticket has this number."""


class UnknownCheckError(TicketError, LookupError):
    """A silence names a check that is not configured."""


class SilenceNotFoundError(TicketError, LookupError):
    """No silence has this id."""


class TicketActionError(TicketError, ValueError):
    """A person asked for a transition the ticket's state does not allow."""


class AlreadyDoneError(TicketActionError):
    """The ticket is already acknowledged, mitigated or resolved, as asked: nothing to do.
    The CLI reports it and exits 0, so that a bot may repeat itself."""

    def __init__(self, message: str, done: str, by: str | None, at: datetime | None) -> None:
        super().__init__(message)
        self.done = done
        self.by = by
        self.at = at


class TimelineError(TicketError, ValueError):
    """A timeline that does not describe a ticket (an event before ``ticket_opened``, ...)."""

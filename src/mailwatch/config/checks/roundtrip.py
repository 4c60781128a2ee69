"""The ``roundtrip`` kind: a canary sent through SMTP must arrive over IMAP in time.

Its config (where to send, where to look, how long to wait), its stages, severity rules and
key figures. The probe is ``mailwatch.probes.roundtrip``.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, StringConstraints, model_validator

from mailwatch.config.base import Secret, StrictModel
from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.dns import ResolverConfig
from mailwatch.config.oauth2 import LoginMechanism, OAuth2Config
from mailwatch.config.tls import TlsClientConfig, TlsMode
from mailwatch.domain.kinds import CRITICAL_ONLY, FAILING, Figure, KeyFigure, SeverityRule

Port = Field(default=None, ge=1, le=65535)


class SmtpEndpoint(TlsClientConfig):
    """The SMTP server the canary is handed to."""

    host: str
    port: int | None = Port
    username: str | None = None
    password: Secret | None = None
    auth: LoginMechanism = "password"
    """``xoauth2`` or ``oauthbearer``: SASL with a token from ``oauth2``, as ``username``."""
    oauth2: OAuth2Config | None = None
    helo: str | None = None
    command_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _auth_needs_both(self) -> SmtpEndpoint:
        if self.auth != "password":
            _check_oauth_login(self.auth, self.username, self.password, self.oauth2, "smtp")
        elif self.oauth2 is not None:
            raise ValueError(_OAUTH2_UNUSED)
        elif (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (both or neither)")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        if self.tls == "tls":
            return 465
        return 587 if self.username else 25


class ImapEndpoint(TlsClientConfig):
    """The mailbox the canary must arrive in."""

    tls: TlsMode = "tls"
    host: str
    port: int | None = Port
    username: str
    password: Secret | None = None
    auth: LoginMechanism = "password"
    """``xoauth2`` or ``oauthbearer``: SASL with a token from ``oauth2``, as ``username``."""
    oauth2: OAuth2Config | None = None
    mailbox: str = "INBOX"
    spam_folders: list[str] = Field(default_factory=lambda: ["Junk"])
    use_idle: bool = True
    poll_interval_s: float = Field(default=2.0, gt=0)
    command_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _login(self) -> ImapEndpoint:
        if self.auth != "password":
            _check_oauth_login(self.auth, self.username, self.password, self.oauth2, "imap")
        elif self.oauth2 is not None:
            raise ValueError(_OAUTH2_UNUSED)
        elif self.password is None:
            raise ValueError('password is missing: auth = "password" logs in with it')
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.tls == "tls" else 143


_OAUTH2_UNUSED = (
    'oauth2 is used only with auth = "xoauth2" or "oauthbearer" (auth is "password"): '
    "set auth, or remove oauth2"
)


def _check_oauth_login(
    auth: str,
    username: str | None,
    password: SecretStr | None,
    oauth2: OAuth2Config | None,
    table: str,
) -> None:
    if oauth2 is None:
        raise ValueError(
            f'auth = "{auth}" needs an oauth2 table ([checks.roundtrip.{table}.oauth2]) '
            "saying where the token comes from"
        )
    if username is None:
        raise ValueError(f'username is missing: auth = "{auth}" logs in as it with the token')
    if password is not None:
        raise ValueError(f'password is not used with auth = "{auth}": remove it')


AuthMethod = Literal["spf", "dkim", "dmarc", "arc"]
"""The methods a roundtrip may expect the receiver to pass; a closed list keeps the
``mailwatch_roundtrip_auth_pass`` metric's ``method`` label small."""


def _one_line(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise ValueError("must be one line (it goes into a mail header or a sentence)")
    return text


OneLine = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_one_line)]
"""A subject, or a name in the canary's body: one line of text."""


class CanaryContent(StrictModel):
    """What the canary says (``[checks.roundtrip.canary]``): filters that quarantine empty or
    robotic test messages should see mail like any other."""

    subject_variants: list[OneLine] = Field(default_factory=list)
    """Subjects used in turn, picked by each canary's id; empty: ``[mailwatch canary] NAME ID``."""
    sent_by: OneLine | None = None
    """Who runs the check, named in the body ("It is sent by ..."); default: the
    administrators of the sender's domain."""


class BounceMailbox(StrictModel):
    """Where the delivery status notifications (bounces) for the canary arrive: the envelope
    sender's (``mail_from``'s) mailbox, read during the wait (``[checks.roundtrip.bounces]``)."""

    same_account: bool = False
    """The check's own IMAP account receives ``mail_from``'s mail: read the bounces there."""
    mailbox: str | None = None
    """The folder bounces arrive in (default: the account's ``mailbox``)."""
    imap: ImapEndpoint | None = None
    """Another account: ``mail_from``'s mailbox (the same keys as ``[checks.roundtrip.imap]``)."""

    @model_validator(mode="after")
    def _one_account(self) -> BounceMailbox:
        if self.same_account == (self.imap is not None):
            raise ValueError(
                "set either same_account = true or a [checks.roundtrip.bounces.imap] table "
                "(the mailbox of mail_from), not both and not neither"
            )
        return self


class RoundtripCheck(CheckBase):
    """Send a canary through SMTP and confirm it arrives over IMAP."""

    kind = "roundtrip"

    smtp: SmtpEndpoint
    imap: ImapEndpoint
    mail_from: str
    rcpt_to: str
    deadline_s: float = Field(default=120.0, gt=0)
    # A stalled delivery is told from a slow one by how slow this check's path usually is: once
    # enough healthy round trips are known, the wait is learned_deadline_factor times the
    # slowest recent one, within [learned_deadline_min_s, deadline_s].
    learn_deadline: bool = True
    learned_deadline_factor: float = Field(default=5.0, ge=1)
    learned_deadline_min_s: float = Field(default=20.0, gt=0)
    # A confirmation run (a retry while no ticket holds the failure) whose previous canary is
    # still missing waits the learned deadline with this floor instead: it is not alone.
    confirmation_deadline_min_s: float = Field(default=5.0, gt=0)
    latency_warning_s: float = Field(default=30.0, gt=0)
    latency_critical_s: float = Field(default=90.0, gt=0)
    sweep_after_s: float = Field(default=3600.0, gt=0)
    # The receiver's verdict (docs/checks/roundtrip.md, "Authentication"): a method listed
    # here without "pass" in the Authentication-Results the receiver wrote is a warning. A
    # closed list keeps the mailwatch_roundtrip_auth_pass metric's method label small.
    expect_authentication: list[Literal["spf", "dkim", "dmarc", "arc"]] = Field(
        default_factory=list
    )
    # Whose Authentication-Results count; None is the IMAP host's name. "" stands for headers
    # without an authserv-id (Microsoft 365 writes none).
    authserv_id: list[str] | None = None
    # mailwatch checks the delivered canary's DKIM signature of mail_from's domain itself,
    # looking the key up through `resolver`.
    verify_dkim: bool = False
    resolver: ResolverConfig = Field(default_factory=ResolverConfig)
    canary: CanaryContent = Field(default_factory=CanaryContent)
    bounces: BounceMailbox | None = None
    """Read mail_from's mailbox for bounces: a canary that bounces fails at once (``bounced``)."""

    @model_validator(mode="before")
    @classmethod
    def _default_timeout(cls, data: Any) -> Any:
        # The probe must outlive its own delivery deadline, with room to clean up.
        if isinstance(data, dict) and "timeout_s" not in data:
            deadline = data.get("deadline_s", 120.0)
            if isinstance(deadline, int | float):
                return {**data, "timeout_s": float(deadline) + 30.0}
        return data

    @model_validator(mode="after")
    def _coherent_times(self) -> RoundtripCheck:
        if self.latency_warning_s > self.latency_critical_s:
            raise ValueError("latency_warning_s must not exceed latency_critical_s")
        if self.timeout_s <= self.deadline_s:
            raise ValueError(
                f"timeout_s ({self.timeout_s:g}) must exceed deadline_s ({self.deadline_s:g}) "
                "so the probe can report a missing canary and clean up"
            )
        return self

    @model_validator(mode="after")
    def _methods_once(self) -> RoundtripCheck:
        repeated = sorted(
            {m for m in self.expect_authentication if self.expect_authentication.count(m) > 1}
        )
        if repeated:
            raise ValueError(f"expect_authentication lists {', '.join(repeated)} more than once")
        return self

    @property
    def target(self) -> str:
        return f"{self.rcpt_to} via {self.smtp.host}"

    @property
    def authserv_ids(self) -> list[str]:
        """Whose Authentication-Results headers count: ``authserv_id``, else the IMAP host."""
        return self.authserv_id if self.authserv_id is not None else [self.imap.host]

    @property
    def sending_domain(self) -> str:
        return self.mail_from.rpartition("@")[2].lower()


class RoundtripStage(enum.StrEnum):
    """Where a round trip failed; the SMTP and IMAP stages are set by ``mailwatch.protocols``."""

    SMTP_CONNECT = "smtp_connect"
    SMTP_TLS = "smtp_tls"
    SMTP_AUTH = "smtp_auth"
    SMTP_ENVELOPE = "smtp_envelope"
    """MAIL FROM and RCPT TO went unanswered (or the connection broke there)."""
    SMTP_DATA = "smtp_data"
    """DATA or the message went unanswered (or the connection broke there)."""
    SMTP_REJECTED = "smtp_rejected"
    """The server refused the sender, the recipient or the message."""
    SMTP_QUIT = "smtp_quit"
    IMAP_CONNECT = "imap_connect"
    IMAP_TLS = "imap_tls"
    IMAP_AUTH = "imap_auth"
    IMAP_PROTOCOL = "imap_protocol"
    OAUTH_TOKEN = "oauth_token"
    """No OAuth2 access token: the token endpoint refused or failed, or token_command did."""
    NOT_DELIVERED = "not_delivered"
    BOUNCED = "bounced"
    """A delivery status notification said the canary could not be delivered."""
    SLOW = "slow"
    DELIVERED_TO_SPAM = "delivered_to_spam"
    CLEANUP = "cleanup"
    SPAM_FOLDER_MISSING = "spam_folder_missing"
    """A configured spam folder does not exist on the IMAP server: spam is not watched there."""
    AUTH_FAILED = "auth_failed"
    """The canary arrived, but the receiver (``expect_authentication``) or mailwatch itself
    (``verify_dkim``) did not find it authenticated."""


_S = RoundtripStage

KIND = CheckKind(
    name="roundtrip",
    config=RoundtripCheck,
    stages=RoundtripStage,
    probe="mailwatch.probes.roundtrip",
    severity=(
        SeverityRule((_S.NOT_DELIVERED,), CRITICAL_ONLY, 1, "canary not delivered"),
        SeverityRule((_S.BOUNCED,), CRITICAL_ONLY, 1, "canary bounced"),
        SeverityRule(
            (
                _S.SMTP_CONNECT,
                _S.SMTP_TLS,
                _S.SMTP_AUTH,
                _S.SMTP_ENVELOPE,
                _S.SMTP_DATA,
                _S.SMTP_REJECTED,
            ),
            CRITICAL_ONLY,
            1,
            "SMTP down: nobody can send",
        ),
        SeverityRule(
            (_S.IMAP_CONNECT, _S.IMAP_TLS, _S.IMAP_AUTH, _S.IMAP_PROTOCOL),
            CRITICAL_ONLY,
            1,
            "IMAP down: nobody can read mail",
        ),
        SeverityRule((_S.SLOW,), CRITICAL_ONLY, 2, "latency over critical"),
        SeverityRule(
            (_S.OAUTH_TOKEN,), CRITICAL_ONLY, 2, "no OAuth2 token: the check cannot log in"
        ),
        SeverityRule((_S.DELIVERED_TO_SPAM,), FAILING, 2, "canary delivered to spam"),
        SeverityRule((_S.AUTH_FAILED,), FAILING, 3, "canary not authenticated (SPF/DKIM/DMARC)"),
    ),
    figures=(
        KeyFigure("latency_s", "latency", "s"),
        KeyFigure("waited_s", "no canary after", "s"),
        KeyFigure("late_canaries", "late canaries", only_if_nonzero=True),
    ),
    exported=(
        Figure(
            "latency_s",
            "last_latency_seconds",
            "The last delivered canary's latency, from the SMTP server's DATA reply to the IMAP "
            "server reporting it (every latency is in mailwatch_roundtrip_latency_seconds)",
        ),
        Figure("send_s", "send_seconds", "Time the SMTP submission of the last canary took"),
        Figure("deadline_s", "deadline_seconds", "How long the last run waited at most"),
        Figure("waited_s", "waited_seconds", "How long the last run waited for a canary in vain"),
        Figure(
            "late_canaries",
            "late_canaries_total",
            "Canaries that arrived after their run had given up on them",
            counter=True,
        ),
        Figure(
            "bounced_s",
            "bounced_seconds",
            "How long after sending the last bounced canary's bounce was found",
        ),
        Figure(
            "hop_{hop}_delay_s",
            "hop_delay_seconds",
            "Delay at each Received hop of the last delivered canary (hop 1 from sending)",
        ),
        Figure(
            "auth_{method}_pass",
            "auth_pass",
            "1 if the receiver's Authentication-Results on the last delivered canary say pass "
            "for the method (one of expect_authentication), else 0",
        ),
        Figure(
            "dkim_verified",
            "dkim_verified",
            "1 if mailwatch verified the last delivered canary's DKIM signature of the sending "
            "domain itself (verify_dkim), else 0",
        ),
    ),
)

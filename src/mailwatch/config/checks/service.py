"""The ``service`` kind: is a daemon there and speaking its protocol?

One check kind, ``service``, whose ``protocol`` picks the keys that apply: ``smtp``, ``imap`` and
``banner`` (TCP connect, greeting regex), ``clamd`` and ``spamd`` (PING/PONG), ``process``
(running processes by name). The probe is ``mailwatch.probes.service``.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from mailwatch.config.checks.base import CheckBase, CheckKind
from mailwatch.config.tls import TlsClientConfig
from mailwatch.domain.kinds import Figure, KeyFigure

PROTOCOLS = ("smtp", "imap", "banner", "clamd", "spamd", "process")

DEFAULT_BANNERS = {"smtp": r"^220", "imap": r"^\* OK"}
DEFAULT_QUIT_COMMANDS = {"smtp": "QUIT", "imap": "a1 LOGOUT", "banner": ""}
DEFAULT_CLAMD_SOCKET = "/run/clamav/clamd.ctl"
"""Debian's ``LocalSocket`` in clamd.conf."""


class ServiceCheckBase(CheckBase):
    """Fields of every service check. A daemon that needs longer than 10 s to greet is down."""

    kind = "service"

    timeout_s: float = Field(default=10.0, gt=0)


class BannerService(ServiceCheckBase, TlsClientConfig):
    """TCP connect (optionally TLS from the first byte) and a greeting line matching a regex."""

    protocol: Literal["smtp", "imap", "banner"]
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: Literal["none", "tls"] = "none"
    banner: str | None = None
    quit_command: str | None = None

    @field_validator("banner")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _generic_needs_port_and_banner(self) -> BannerService:
        if self.protocol == "banner" and (self.port is None or self.banner is None):
            raise ValueError('protocol "banner" needs both port and banner')
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        if self.protocol == "smtp":
            return 465 if self.tls == "tls" else 25
        return 993 if self.tls == "tls" else 143

    @property
    def banner_pattern(self) -> re.Pattern[str]:
        if self.banner is not None:
            return re.compile(self.banner)
        return re.compile(DEFAULT_BANNERS[self.protocol])

    @property
    def effective_quit_command(self) -> str:
        """Sent after a good banner so the server logs a clean QUIT, not a lost connection."""
        if self.quit_command is not None:
            return self.quit_command
        return DEFAULT_QUIT_COMMANDS[self.protocol]

    @property
    def target(self) -> str:
        return f"{self.host}:{self.effective_port}"


class PingService(ServiceCheckBase):
    """A daemon reached over a unix socket or TCP that answers a PING with PONG."""

    socket: str | None = None
    host: str | None = None
    port: int = Field(ge=1, le=65535)

    @property
    def target(self) -> str:
        return self.socket if self.socket is not None else f"{self.host}:{self.port}"


def _one_endpoint(data: Any, default: dict[str, Any]) -> Any:
    """``socket``, or ``host`` (and ``port``); neither means the Debian default."""
    if not isinstance(data, dict):
        return data
    if "socket" in data and ("host" in data or "port" in data):
        raise ValueError("give either socket or host/port, not both")
    if "socket" in default and "port" in data and "host" not in data:
        raise ValueError("port needs host (without either, the default unix socket is used)")
    if "socket" not in data and "host" not in data:
        return {**default, **data}
    return data


class SmtpService(BannerService):
    """An SMTP server: default port 25 (465 with TLS), banner ``^220``, says QUIT."""

    protocol: Literal["smtp"]


class ImapService(BannerService):
    """An IMAP server: default port 143 (993 with TLS), banner ``^\\* OK``, says LOGOUT."""

    protocol: Literal["imap"]


class GenericBannerService(BannerService):
    """Any line-greeting service (POP3, FTP, ...): port and banner are required."""

    protocol: Literal["banner"]


class ClamdService(PingService):
    """clamd: ``zPING`` answered by ``PONG``. Default: the unix socket ``/run/clamav/clamd.ctl``."""

    protocol: Literal["clamd"]
    port: int = Field(default=3310, ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _endpoint(cls, data: Any) -> Any:
        return _one_endpoint(data, {"socket": DEFAULT_CLAMD_SOCKET})


class SpamdService(PingService):
    """spamd: ``PING SPAMC/1.5`` answered by ``SPAMD/1.5 0 PONG``. Default: 127.0.0.1:783."""

    protocol: Literal["spamd"]
    port: int = Field(default=783, ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _endpoint(cls, data: Any) -> Any:
        return _one_endpoint(data, {"host": "127.0.0.1"})


class ProcessService(ServiceCheckBase):
    """At least ``min_count`` running processes with this name (and command line substring)."""

    protocol: Literal["process"]
    process_name: str = Field(min_length=1)
    cmdline_contains: str | None = None
    min_count: int = Field(default=1, ge=1)

    @property
    def target(self) -> str:
        if self.cmdline_contains:
            return f"process {self.process_name} ({self.cmdline_contains})"
        return f"process {self.process_name}"


def _protocol_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        protocol = value.get("protocol")
    else:
        protocol = getattr(value, "protocol", None)
    return protocol if protocol in PROTOCOLS else None


ServiceCheck = Annotated[
    Annotated[SmtpService, Tag("smtp")]
    | Annotated[ImapService, Tag("imap")]
    | Annotated[GenericBannerService, Tag("banner")]
    | Annotated[ClamdService, Tag("clamd")]
    | Annotated[SpamdService, Tag("spamd")]
    | Annotated[ProcessService, Tag("process")],
    Discriminator(
        _protocol_tag,
        custom_error_type="service_protocol",
        custom_error_message=f"protocol must be one of: {', '.join(PROTOCOLS)}",
    ),
]
"""A ``[[checks.service]]`` entry; its ``protocol`` decides which model validates it."""


class ServiceStage(enum.StrEnum):
    """``connect`` (refused, unreachable, no such socket), ``tls`` (handshake or certificate),
    ``banner`` (no greeting, or not the expected one), ``ping`` (no answer to PING yet),
    ``protocol`` (a garbled, truncated or wrong reply), ``quit`` (the goodbye), ``process``
    (listing processes), ``process_missing`` and ``process_count``."""

    CONNECT = "connect"
    TLS = "tls"
    BANNER = "banner"
    PING = "ping"
    PROTOCOL = "protocol"
    QUIT = "quit"
    PROCESS = "process"
    PROCESS_MISSING = "process_missing"
    PROCESS_COUNT = "process_count"


KIND = CheckKind(
    name="service",
    config=ServiceCheck,
    stages=ServiceStage,
    probe="mailwatch.probes.service",
    figures=(
        KeyFigure("connect_s", "connect time", "s"),
        KeyFigure("banner_s", "banner time", "s"),
        KeyFigure("pong_s", "reply time", "s"),
    ),
    exported=(
        Figure("connect_s", "connect_seconds", "Time the TCP connection took"),
        Figure("banner_s", "banner_seconds", "Time from connecting to the server's greeting"),
        Figure("pong_s", "pong_seconds", "Time from connecting to the PONG (clamd, spamd)"),
        Figure("process_count", "processes", "Processes found (protocol process)"),
    ),
)

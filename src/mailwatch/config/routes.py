"""Config sections for alerts: ``[routes.NAME]`` (who hears about which tickets, through which
apprise URLs) and ``[alerts]`` (delivery timeout, time zone, message templates).

Validation only, and only what needs neither apprise nor the network: whether apprise can use
a route's URLs is ``mailwatch.alerts.route_urls``; matching is ``mailwatch.alerts.routes``,
delivery ``mailwatch.alerts.delivery``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from mailwatch.config.base import StrictModel
from mailwatch.config.checks import CheckName
from mailwatch.config.escalation import WallDuration
from mailwatch.config.secrets import resolve_secret
from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.templates import check_template

RouteName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
"""Route names appear in the outbox, in logs and on the command line: keep them plain."""

AppriseUrl = Annotated[SecretStr, BeforeValidator(resolve_secret)]
"""An apprise URL, which usually carries a token: a literal, ``env:NAME``, ``file:/path`` or
``credential:NAME`` like every secret. Whether apprise can use it is asked of apprise by
``mailwatch validate`` and at daemon start and reload (``mailwatch.alerts.route_urls``), not
at load time: loading a config does not load apprise's plugins."""


MIN_TEST_EVERY = timedelta(seconds=1)


class RouteConfig(StrictModel):
    """``[routes.NAME]``: where a ticket's notices go, and which tickets.

    Destinations are ``urls`` and/or the services of an apprise ``config_file`` (only those
    tagged with one of ``config_tags``, when given). The filters all have to pass: severity
    within ``min_severity``..``max_severity`` (1 is most urgent), the check among ``checks``,
    the check carrying one of ``tags``, the notice among ``notices``, and the time inside
    (``hours = "business"``) or outside (``"off_hours"``) the hours of ``calendar``.

    With ``test_every``, the daemon sends a test notice through the route on that schedule;
    a failed test opens a ticket of severity ``test_failure_severity`` for the synthetic
    check ``route-test:NAME``, told through the fallback (``mailwatch.alerts.route_tests``).
    """

    urls: list[AppriseUrl] = Field(default_factory=list)
    config_file: Path | None = None
    config_tags: list[str] = Field(default_factory=list)
    fallback: str | None = None
    format: Literal["text", "markdown", "html"] = "text"
    min_severity: int = Field(default=1, ge=1, le=4)
    max_severity: int = Field(default=4, ge=1, le=4)
    checks: list[CheckName] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    notices: list[NoticeKind] = Field(default_factory=lambda: list(NoticeKind))
    calendar: str | None = None
    hours: Literal["business", "off_hours", "any"] = "any"
    test_every: WallDuration | None = None
    test_failure_severity: int = Field(default=2, ge=1, le=4)

    @field_validator("config_file")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"apprise config file {value} does not exist or is not a file")
        return value

    @field_validator("test_every")
    @classmethod
    def _test_gap(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < MIN_TEST_EVERY:
            raise ValueError(
                f"must be at least {int(MIN_TEST_EVERY.total_seconds())}s "
                "(a test notice every moment is noise); omit it to send none"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RouteConfig:
        if not self.urls and self.config_file is None:
            raise ValueError("a route needs urls, a config_file, or both")
        if self.config_tags and self.config_file is None:
            raise ValueError("config_tags select services of config_file, which is not set")
        if self.min_severity > self.max_severity:
            raise ValueError(
                f"min_severity ({self.min_severity}) must not be above max_severity "
                f"({self.max_severity}); 1 is the most urgent severity"
            )
        if self.hours != "any" and self.calendar is None:
            raise ValueError(f'hours = "{self.hours}" needs a calendar to tell business hours')
        if not self.notices:
            raise ValueError("notices is empty, so the route would never be used; omit it")
        return self


class NoticeTemplate(StrictModel):
    """``[alerts.templates.KIND]``: a title and/or body replacing the default for one kind."""

    title: str | None = None
    body: str | None = None

    @field_validator("title", "body")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            check_template(value)
        return value


class AlertsConfig(StrictModel):
    """``[alerts]``: how messages are delivered and written, whatever the route. Times in
    messages are shown in ``[incidents] timezone``, like ``mailwatch show``."""

    timeout_s: float = Field(default=30.0, gt=0, le=600)
    templates: dict[NoticeKind, NoticeTemplate] = Field(default_factory=dict)

    @field_validator("templates")
    @classmethod
    def _ticket_notices_only(
        cls, value: dict[NoticeKind, NoticeTemplate]
    ) -> dict[NoticeKind, NoticeTemplate]:
        # Templates fill in a ticket's facts; a maintenance announcement has no ticket.
        if NoticeKind.MAINTENANCE in value:
            raise ValueError("maintenance announcements have a fixed text: no template for them")
        return value


def check_route_references(
    routes: Mapping[str, RouteConfig],
    calendars: Collection[str],
    check_names: Collection[str],
) -> None:
    """Raise ``ValueError`` for a fallback, calendar or check a route names but nobody defined,
    and for fallbacks that lead back to where they started."""
    defined = ", ".join(repr(name) for name in routes) or "none"
    for name, route in routes.items():
        if route.fallback is not None and route.fallback not in routes:
            raise ValueError(
                f"routes.{name}.fallback names unknown route {route.fallback!r} "
                f"(defined routes: {defined})"
            )
        if route.calendar is not None and route.calendar not in calendars:
            known = ", ".join(repr(c) for c in calendars) or "none"
            raise ValueError(
                f"routes.{name}.calendar names unknown calendar {route.calendar!r} "
                f"(defined calendars: {known})"
            )
        unknown = sorted(set(route.checks) - set(check_names))
        if unknown:
            raise ValueError(f"routes.{name}.checks names unknown check(s): {', '.join(unknown)}")
    for name in routes:
        chain = [name]
        current = routes[name].fallback
        while current is not None:
            if current in chain:
                loop = " -> ".join([*chain[chain.index(current) :], current])
                raise ValueError(f"routes.{current}.fallback: fallback routes form a cycle: {loop}")
            chain.append(current)
            current = routes[current].fallback

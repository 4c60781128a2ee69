"""Maintenance announcements: which notices about ``[[maintenance]]`` windows are due, to
which routes, and what they say.

Pure: no clock, no I/O. A window with ``announce_before`` is announced that long before each
occurrence starts (phase ``ahead``), again when it starts (``started``) and when it ends
(``ended``). Each phase is wanted only until the next one makes it stale; the announcer
(``mailwatch.alerts.announcer``) queues and delivers them once each. See docs/alerts.md.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from mailwatch.domain.notices import NoticeKind
from mailwatch.domain.quiet import ALL_CHECKS
from mailwatch.domain.time import iso, local, parse_instant, span

if TYPE_CHECKING:
    from mailwatch.config.maintenance import MaintenanceWindowConfig
    from mailwatch.config.model import MailwatchConfig
    from mailwatch.config.routes import RouteConfig

ENDED_WANTED_FOR = timedelta(days=1)
"""An ``ended`` notice not sent within this long after the end (the daemon was down) is
dropped: by then it tells nobody anything."""


class Phase(enum.StrEnum):
    AHEAD = "ahead"
    STARTED = "started"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of an announced window, with who hears of it and when."""

    window: str
    starts_at: datetime
    ends_at: datetime
    checks: tuple[str, ...]
    announce_at: datetime
    routes: tuple[str, ...]

    def moment(self, phase: Phase) -> datetime:
        """When ``phase`` is due."""
        if phase is Phase.AHEAD:
            return self.announce_at
        return self.starts_at if phase is Phase.STARTED else self.ends_at

    def payload(self, phase: Phase) -> dict[str, Any]:
        """What the stored row keeps for its message."""
        return {
            "phase": phase.value,
            "checks": list(self.checks),
            "announce_at": iso(self.announce_at),
        }


def wanted_until(phase: Phase, starts_at: datetime, ends_at: datetime) -> datetime:
    """After this a notice of ``phase`` not yet delivered is stale: the window started (for
    ``ahead``), ended (``started``), or ended a day ago (``ended``)."""
    if phase is Phase.AHEAD:
        return starts_at
    return ends_at if phase is Phase.STARTED else ends_at + ENDED_WANTED_FOR


def routes_for(window: MaintenanceWindowConfig, config: MailwatchConfig) -> tuple[str, ...]:
    """The window's ``routes``; without them, every route that takes ``maintenance`` notices
    whose ``checks`` and ``tags`` filters let through one of the window's checks (severity
    and hours filters are for tickets: an announcement has neither)."""
    if window.routes is not None:
        return window.routes
    covered = [c for c in config.checks if ALL_CHECKS in window.checks or c.name in window.checks]
    return tuple(
        name
        for name, route in config.routes.items()
        if NoticeKind.MAINTENANCE in route.notices
        and (
            # A route without check filters hears of every window, checks configured or not.
            (not route.checks and not route.tags)
            or any(_takes(route, check.name, check.tags) for check in covered)
        )
    )


def _takes(route: RouteConfig, check: str, tags: Sequence[str]) -> bool:
    if route.checks and check not in route.checks:
        return False
    return not route.tags or bool(set(route.tags) & set(tags))


def occurrences(config: MailwatchConfig, since: datetime, until: datetime) -> list[Occurrence]:
    """Every occurrence of an announced window that ends after ``since`` and is announced
    (``announce_at``) at or before ``until``, by start time."""
    found = []
    for window in config.maintenance:
        lead = window.announce_before
        if lead is None:
            continue
        routes = routes_for(window, config)
        for start, end in window.occurrences(since, until + lead + timedelta(microseconds=1)):
            if start - lead <= until:
                at = start - lead
                found.append(Occurrence(window.name, start, end, window.checks, at, routes))
    return sorted(found, key=lambda o: (o.starts_at, o.window))


@dataclass(frozen=True, slots=True)
class DueAnnouncement:
    occurrence: Occurrence
    phase: Phase
    route: str


def due(config: MailwatchConfig, now: datetime) -> list[DueAnnouncement]:
    """The announcements whose moment has come at ``now`` and that are not stale yet; the
    caller queues those it has not stored already."""
    found = []
    for occurrence in occurrences(config, now - ENDED_WANTED_FOR, now):
        for phase in Phase:
            if phase is Phase.AHEAD and occurrence.announce_at == occurrence.starts_at:
                continue  # announce_before = 0: the start notice says it all
            moment = occurrence.moment(phase)
            until = wanted_until(phase, occurrence.starts_at, occurrence.ends_at)
            if moment <= now < until:
                found += [DueAnnouncement(occurrence, phase, r) for r in occurrence.routes]
    return found


@dataclass(frozen=True, slots=True)
class AnnouncementMessage:
    title: str
    body: str


def render(
    window: str,
    phase: Phase,
    starts_at: datetime,
    ends_at: datetime,
    payload: Mapping[str, Any],
    zone: tzinfo | None,
) -> AnnouncementMessage:
    """The title and plain-text body of one announcement."""
    checks = [str(c) for c in payload.get("checks", [])]
    covered = "every check" if ALL_CHECKS in checks or not checks else ", ".join(checks)
    length = span((ends_at - starts_at).total_seconds())
    when = f"{local(starts_at, zone)} to {local(ends_at, zone)} ({length})"
    if phase is Phase.AHEAD:
        title = f"mailwatch: maintenance {window!r} planned {local(starts_at, zone)}"
        lead = f"Planned maintenance window {window!r}: {when}."
    elif phase is Phase.STARTED:
        title = f"mailwatch: maintenance {window!r} started"
        lead = f"Maintenance window {window!r} has started: {when}."
    else:
        title = f"mailwatch: maintenance {window!r} ended"
        lead = f"Maintenance window {window!r} has ended: {when}."
    lines = [
        lead,
        f"Checks: {covered}. During the window their tickets open as usual, but nobody is told;",
        "open tickets are announced when it ends.",
    ]
    announced = parse_instant(payload.get("announce_at"))
    if phase is Phase.AHEAD and announced is not None:
        lines.append(f"(Announced {span((starts_at - announced).total_seconds())} ahead.)")
    return AnnouncementMessage(title, "\n".join(lines))
